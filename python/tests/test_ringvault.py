"""The installed `ringvault` package against numpy, pandas and scikit-learn, the command line
and a real vault on loopback. The CLI binary is `$RINGVAULT_BIN` (the cargo test that runs
this suite sets it), else `ringvault` on the PATH."""

import json
import os
import pickle
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ringvault

ROOT = Path(__file__).resolve().parents[2]
DIABETES = ROOT / "examples" / "diabetes.csv"
STATS = ringvault.statistics()


def cli() -> str:
    exe = os.environ.get("RINGVAULT_BIN") or shutil.which("ringvault")
    if not exe:
        pytest.fail("the ringvault binary is needed: set RINGVAULT_BIN or put it on the PATH")
    return exe


def run(*args, cwd=None):
    p = subprocess.run([cli(), *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"ringvault {' '.join(args)}: {p.stderr}"
    return p.stdout


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    assert ringvault.generate_keys(str(d), preset="n4096", backend="cpu") == "n4096"
    return d


@pytest.fixture(scope="session")
def owner(keys):
    return ringvault.Owner(str(keys), backend="cpu")


@pytest.fixture(scope="session")
def server(keys):
    return ringvault.Server(str(keys), backend="cpu")


@pytest.fixture(scope="session")
def diabetes():
    return pd.read_csv(DIABETES)


def expected(series: pd.Series, stat: str) -> float:
    s = series.dropna()
    return {
        "count": float(len(s)),
        "sum": s.sum(),
        "mean": s.mean(),
        "sum_of_squares": (s * s).sum(),
        "variance": s.var(ddof=0),
        "stddev": s.std(ddof=0),
        "sample_variance": s.var(ddof=1),
        "sample_stddev": s.std(ddof=1),
    }[stat]


def close(got: float, want: float, rel: float = 1e-9) -> bool:
    return abs(got - want) <= rel * max(abs(want), 1e-300)


def test_every_statistic_of_a_dataframe_matches_pandas(owner, server, diabetes):
    table = owner.encrypt(diabetes)
    assert table.records == len(diabetes) and table.columns == list(diabetes.columns)
    for column in ["age", "bmi", "bp", "ltg"]:
        for stat in STATS:
            got = owner.decrypt(server.stat(table, stat, column))
            assert close(got, expected(diabetes[column], stat)), (stat, column, got)
    # Every statistic of every column in one evaluation: a DataFrame like pandas' describe.
    frame = owner.decrypt(ringvault.describe(server, table))
    assert list(frame.columns) == list(diabetes.columns) and list(frame.index) == STATS
    for column in diabetes.columns:
        for stat in STATS:
            assert close(frame.loc[stat, column], expected(diabetes[column], stat)), (stat, column)


def test_dicts_of_arrays_more_rows_than_slots_and_given_decimals(owner, server):
    rng = np.random.default_rng(5)
    glucose = np.round(rng.normal(100, 15, 5000), 1)  # n = 4096 slots: two ciphertexts
    age = rng.integers(18, 95, 5000)
    table = owner.encrypt({"glucose": glucose, "age": age})
    assert table.records == 5000
    assert close(owner.decrypt(server.stat(table, "mean", "glucose")), glucose.mean())
    assert close(owner.decrypt(server.stat(table, "sample_variance", "age")), np.var(age, ddof=1))
    # Given decimals round the values to them, half away from zero (as the CLI does).
    coarse = owner.encrypt({"glucose": glucose}, decimals={"glucose": 0})
    assert close(owner.decrypt(server.stat(coarse, "sum", "glucose")), (np.sign(glucose) * np.floor(np.abs(glucose) + 0.5)).sum())


def test_missing_values_are_refused_or_skipped_and_counted(owner, server):
    bmi = np.array([22.5, np.nan, 31.0, 27.25, np.nan])
    with pytest.raises(ringvault.DataError, match=r'"bmi", row 2'):
        owner.encrypt({"bmi": bmi})
    table, skipped = owner.encrypt_counting({"bmi": bmi}, skip_missing=True)
    assert skipped == {"bmi": 2}
    details = owner.decrypt_details(server.stat(table, "mean", "bmi"))
    assert details["count"] == 3 and close(details["value"], np.nanmean(bmi))
    with pytest.raises(ringvault.DataError):
        owner.encrypt({"a": [1.0, 2.0], "b": [1.0]})
    with pytest.raises(ringvault.DataError):
        owner.encrypt({"a": [np.inf]})


def test_logistic_scores_match_scikit_learn(owner, server, diabetes):
    from sklearn.linear_model import LogisticRegression

    features = ["age", "bmi", "bp", "glu"]
    weights = [0.021, 0.094, 0.031, 0.012]
    model = {"intercept": -9.5, "weights": dict(zip(features, weights))}
    table = owner.encrypt(diabetes[features])
    result = server.logistic(table, model)
    scores = owner.decrypt(result)
    probabilities = owner.decrypt(result, probabilities=True)
    # scikit-learn with the same coefficients: predict_proba is sigmoid(b + w·x).
    lr = LogisticRegression()
    lr.classes_ = np.array([0, 1])
    lr.coef_ = np.array([weights])
    lr.intercept_ = np.array([model["intercept"]])
    want = lr.predict_proba(diabetes[features].to_numpy())[:, 1]
    linear = lr.decision_function(diabetes[features].to_numpy())
    scale = abs(model["intercept"]) + np.abs(diabetes[features].to_numpy() * weights).sum(axis=1)
    assert np.all(np.abs(scores - linear) <= 1e-9 * scale)
    assert np.max(np.abs(probabilities - want)) < 1e-9
    # A weighted sum with plaintext weights per record.
    w = np.round(np.linspace(0.5, 1.5, len(diabetes)), 2)
    got = owner.decrypt(server.weighted_sum(table, "bmi", w))
    assert close(got, float((w * diabetes["bmi"]).sum()))


def test_bytes_and_pickle_round_trips_and_no_secret_in_repr(owner, server, diabetes, keys):
    table = owner.encrypt(diabetes[["bmi", "age"]])
    again = ringvault.EncryptedTable.from_bytes(table.to_bytes())
    assert again.to_bytes() == table.to_bytes() and again.columns == ["bmi", "age"]
    unpickled = pickle.loads(pickle.dumps(table))
    result = server.stat(unpickled, "mean", "bmi")
    result = pickle.loads(pickle.dumps(result))
    assert result.kind == "stat"
    assert close(owner.decrypt(ringvault.EncryptedResult.from_bytes(result.to_bytes())), diabetes["bmi"].mean())
    # The owner's repr names its directory, preset and backend: nothing of the key.
    assert re.fullmatch(r'Owner\(dir="[^"]+", preset="n4096", backend="cpu[-a-z0-9]*"\)', repr(owner)), repr(owner)
    secret = (keys / "secret.key").read_bytes()
    for text in [repr(owner), str(owner), repr(server), repr(table), repr(result)]:
        assert secret[-48:-16].hex() not in text and str(list(secret[-48:-16])) not in text
    with pytest.raises(TypeError):
        pickle.dumps(owner)
    # A server ships to workers as its eval.keys: public material only.
    shipped = pickle.loads(pickle.dumps(server))
    assert shipped.to_bytes() == (keys / "eval.keys").read_bytes()
    assert close(owner.decrypt(shipped.stat(table, "mean", "age")), diabetes["age"].mean())
    with pytest.raises(ringvault.WireFormatError):
        ringvault.Server.from_bytes((keys / "secret.key").read_bytes())


def test_long_calls_release_the_gil(owner):
    # While one thread encrypts in Rust, another runs Python: with the GIL held it could not.
    data = {"x": np.arange(200_000, dtype=np.float64) % 1000, "y": np.arange(200_000, dtype=np.float64) % 77}
    started, done = threading.Event(), threading.Event()

    def work():
        started.set()
        owner.encrypt(data)
        done.set()

    worker = threading.Thread(target=work)
    worker.start()
    started.wait()
    ticks = 0
    while not done.is_set():
        ticks += 1
    worker.join()
    assert ticks > 100_000, f"the main thread ran {ticks} iterations during the encryption"


def test_hostile_bytes_raise_python_exceptions(owner, server, diabetes):
    good = owner.encrypt(diabetes[["bmi"]]).to_bytes()
    rng = np.random.default_rng(9)
    for cut in [0, 7, 12, 100, len(good) // 2, len(good) - 1]:
        with pytest.raises(ringvault.Error):
            ringvault.EncryptedTable.from_bytes(good[:cut])
    for _ in range(32):
        b = bytearray(good)
        b[int(rng.integers(0, len(b)))] ^= 1 << int(rng.integers(0, 8))
        with pytest.raises(ringvault.WireFormatError):
            ringvault.EncryptedTable.from_bytes(bytes(b))
    with pytest.raises(ringvault.WireFormatError):
        ringvault.EncryptedResult.from_bytes(good)  # a table is not a result
    with pytest.raises(ringvault.Error):
        owner.decrypt(b"\x00" * 64)
    table = ringvault.EncryptedTable.from_bytes(good)
    with pytest.raises(ringvault.DataError):
        server.stat(table, "median", "bmi")
    with pytest.raises(ringvault.DataError):
        server.stat(table, "mean", "weight")
    with pytest.raises(ringvault.DataError):
        server.logistic(table, {"intercept": 1.0, "weights": {"bmi": float("nan")}})
    with pytest.raises(ringvault.FileError):
        ringvault.Server("/nonexistent/keys")


def test_keys_results_and_tables_cross_between_python_and_the_cli(tmp_path, owner, keys, diabetes):
    # Python encrypts; the CLI evaluates; Python decrypts.
    table_file = tmp_path / "table.rv"
    table_file.write_bytes(owner.encrypt(diabetes).to_bytes())
    run("--backend", "cpu", "eval", "--keys", str(keys), "--data", str(table_file), "--stat", "variance", "--column", "glu", "--out", str(tmp_path / "var.rv"))
    got = owner.decrypt((tmp_path / "var.rv").read_bytes())
    assert close(got, diabetes["glu"].var(ddof=0))
    # The CLI makes keys and a table; Python evaluates and decrypts.
    cli_keys = tmp_path / "cli-keys"
    run("--backend", "cpu", "keygen", "--dir", str(cli_keys), "--preset", "n4096")
    run("--backend", "cpu", "encrypt", "--keys", str(cli_keys), "--csv", str(DIABETES), "--out", str(tmp_path / "cli.rv"))
    table = ringvault.EncryptedTable.from_bytes((tmp_path / "cli.rv").read_bytes())
    result = ringvault.Server(str(cli_keys), backend="cpu").stat(table, "mean", "age")
    assert close(ringvault.Owner(str(cli_keys), backend="cpu").decrypt(result), diabetes["age"].mean())
    # And the CLI decrypts what Python computed.
    (tmp_path / "mean.rv").write_bytes(result.to_bytes())
    out = json.loads(run("decrypt", "--keys", str(cli_keys), "--result", str(tmp_path / "mean.rv"), "--json"))
    assert out["stat"] == "mean" and close(out["value"], diabetes["age"].mean())


class Vault:
    """`ringvault serve` on an ephemeral loopback port with a store in a temporary directory."""

    def __init__(self, data: Path):
        self.data = data
        self.proc = subprocess.Popen([cli(), "--backend", "cpu", "serve", "--data", str(data), "--listen", "127.0.0.1:0"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        found = []

        def read():
            for line in self.proc.stderr:
                if not found and "ringvault vault listening on http://" in line:
                    found.append(line.split("http://", 1)[1].split()[0])

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + 60
        while not found and time.monotonic() < deadline and self.proc.poll() is None:
            time.sleep(0.05)
        assert found, "the vault did not start within 60 s"
        self.url = "http://" + found[0]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def test_the_vault_client_against_a_real_server(tmp_path, keys, owner, diabetes):
    vault = Vault(tmp_path / "store")
    try:
        operator = ringvault.VaultClient(vault.url, token_file=str(vault.data / "operator.token"))
        assert operator.health()["status"] == "ok"
        owner_keys = tmp_path / "owner-keys"
        shutil.copytree(keys, owner_keys)
        schema = json.loads((ROOT / "examples" / "diabetes-schema.json").read_text())
        dataset = operator.create_dataset("diabetes", schema, str(owner_keys))
        assert (owner_keys / "owner.token").exists()
        owner_client = ringvault.VaultClient(vault.url, token_file=str(owner_keys / "owner.token"))
        device = owner_client.issue_device(dataset, "monitor-1", out=str(tmp_path / "monitor-1.token"))
        monitor = ringvault.VaultClient(vault.url, token_file=str(tmp_path / "monitor-1.token"))
        report = monitor.push(dataset, diabetes, str(owner_keys), idempotency_key="first-push")
        assert report["records"] == len(diabetes) and report["stored"] == report["uploads"]
        # A rerun of the same named push stores nothing twice.
        again = monitor.push(dataset, diabetes, str(owner_keys), idempotency_key="first-push")
        assert again["stored"] == 0 and again["duplicates"] == report["uploads"]
        assert owner_client.list_datasets()[0]["records"] == len(diabetes)
        # A device cannot read.
        with pytest.raises(ringvault.VaultError) as refused:
            monitor.query(dataset, stat="mean", column="bmi")
        assert refused.value.status == 403
        got = owner.decrypt(owner_client.query(dataset, stat="mean", column="bmi"))
        assert close(got, diabetes["bmi"].mean())
        frame = owner.decrypt(owner_client.describe(dataset, ["age", "glu"]))
        for column in ["age", "glu"]:
            for stat in STATS:
                assert close(frame.loc[stat, column], expected(diabetes[column], stat)), (stat, column)
        model = {"intercept": -9.5, "weights": {"age": 0.021, "bmi": 0.094}}
        scores = owner.decrypt(owner_client.query(dataset, logreg=model))
        want = -9.5 + 0.021 * diabetes["age"] + 0.094 * diabetes["bmi"]
        assert np.max(np.abs(scores - want.to_numpy())) < 1e-6
        # A reading outside the declared range is refused before anything is sent.
        with pytest.raises(ringvault.DataError, match="declared range"):
            monitor.push(dataset, diabetes.assign(age=diabetes["age"] + 500), str(owner_keys))
        owner_client.revoke_device(dataset, device["id"])
        with pytest.raises(ringvault.VaultError) as revoked:
            monitor.push(dataset, diabetes.head(1), str(owner_keys))
        assert revoked.value.status == 401
    finally:
        vault.stop()
