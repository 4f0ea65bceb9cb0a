"""RingVault: homomorphic encryption for medical statistics.

numpy arrays and pandas DataFrames go in, encrypted; a server holding only the evaluation
keys computes statistics and logistic-regression scores on them; only the owner decrypts.
The key files, tables and results are the same files as the ``ringvault`` command line and
the vault use, so each side may be Python, the CLI or the vault.

    import ringvault, pandas as pd
    ringvault.generate_keys("keys")                      # secret.key, public.key, eval.keys
    owner = ringvault.Owner("keys")
    table = owner.encrypt(pd.read_csv("examples/diabetes.csv"))
    server = ringvault.Server("keys")                     # opens eval.keys only
    mean = owner.decrypt(server.stat(table, "mean", "bmi"))
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ._ringvault import (
    BackendError,
    DataError,
    EncryptedResult,
    EncryptedTable,
    Error,
    FileError,
    KeyMismatchError,
    NoiseBudgetError,
    VaultError,
    WireFormatError,
    WrapError,
    __version__,
    generate_keys,
    statistics,
)
from ._ringvault import Owner as _Owner
from ._ringvault import Server
from ._ringvault import VaultClient as _VaultClient

__all__ = [
    "BackendError",
    "DataError",
    "EncryptedResult",
    "EncryptedTable",
    "Error",
    "FileError",
    "KeyMismatchError",
    "NoiseBudgetError",
    "Owner",
    "Server",
    "VaultClient",
    "VaultError",
    "WireFormatError",
    "WrapError",
    "generate_keys",
    "statistics",
    "__version__",
]


def _columns(data: Any) -> List[Tuple[str, np.ndarray]]:
    """``(name, float64 array)`` pairs of a DataFrame (its numeric columns), a dict of
    arrays or an iterable of pairs. Missing values become NaN."""
    if hasattr(data, "select_dtypes") and hasattr(data, "columns"):  # a pandas DataFrame
        numeric = data.select_dtypes(include=["number", "bool"])
        return [(str(name), numeric[name].to_numpy(dtype=np.float64, na_value=np.nan)) for name in numeric.columns]
    items: Iterable[Tuple[Any, Any]] = data.items() if isinstance(data, Mapping) else data
    out = []
    for name, values in items:
        if hasattr(values, "to_numpy"):  # a pandas Series
            values = values.to_numpy(dtype=np.float64, na_value=np.nan)
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim != 1:
            raise DataError(f"column {name!r}: a column is one-dimensional (got shape {arr.shape})")
        out.append((str(name), np.ascontiguousarray(arr)))
    if not out:
        raise DataError("no numeric column to encrypt")
    lengths = {len(a) for _, a in out}
    if len(lengths) != 1:
        raise DataError(f"columns of different lengths: {sorted(lengths)}")
    return out


def _stats_frame(values: List[Dict[str, Any]]) -> Any:
    """Decrypted statistics as a DataFrame (index: statistic, columns: column), or the list
    of dicts when pandas is not installed."""
    try:
        import pandas as pd
    except ImportError:
        return values
    frame = pd.DataFrame(values)
    return frame.pivot_table(index="stat", columns="column", values="value", sort=False)


class Owner(_Owner):
    """The data owner: ``secret.key`` and ``public.key`` of a key directory.

    ``encrypt`` turns a DataFrame or a dict of arrays into an ``EncryptedTable`` (fixed point:
    decimals detected per column or given); ``decrypt`` turns any result back into numbers.
    The secret key never leaves the object, and it cannot be pickled.
    """

    def encrypt(self, data: Any, decimals: Optional[Mapping[str, int]] = None, skip_missing: bool = False) -> EncryptedTable:
        """Encrypts every numeric column of ``data`` (a DataFrame, a dict of arrays or of
        Series). Missing values (NaN) are refused, or with ``skip_missing`` skipped and
        counted (``encrypt_counting`` returns the counts). Any number of rows: more than the
        ring degree take more ciphertexts."""
        return self.encrypt_counting(data, decimals, skip_missing)[0]

    def encrypt_counting(self, data: Any, decimals: Optional[Mapping[str, int]] = None, skip_missing: bool = False) -> Tuple[EncryptedTable, Dict[str, int]]:
        """As ``encrypt``, also returning the cells skipped per column."""
        return self._encrypt(_columns(data), dict(decimals or {}), bool(skip_missing))

    def decrypt(self, result: Union[EncryptedResult, bytes], probabilities: bool = False) -> Any:
        """A statistic → a float; several → a DataFrame (index: statistic, columns: column);
        a model's scores → a numpy array of ``b + w·x`` per record (NaN for a record with a
        skipped cell), or with ``probabilities`` their sigmoid."""
        kind, payload = self._decrypt(result)
        if kind == "stat":
            return payload["value"]
        if kind == "stats":
            return _stats_frame(payload)
        scores, probs = payload
        return probs if probabilities else scores

    def decrypt_details(self, result: Union[EncryptedResult, bytes]) -> Any:
        """The decrypted result with its metadata: ``{"stat","column","count","value"}``, a
        list of those, or ``{"scores", "probabilities"}`` arrays."""
        kind, payload = self._decrypt(result)
        if kind == "scores":
            return {"scores": payload[0], "probabilities": payload[1]}
        return payload


class VaultClient(_VaultClient):
    """A client of a RingVault vault with one token, with the semantics of
    ``ringvault vault …``: ``create_dataset``, ``issue_device``, ``revoke_device``, ``push``,
    ``query``, ``list_datasets``, ``delete_dataset``."""

    def push(
        self,
        dataset: str,
        data: Any,
        keys_dir: str,
        decimals: Optional[Mapping[str, int]] = None,
        skip_missing: bool = False,
        rows_per_upload: Optional[int] = None,
        idempotency_key: Optional[str] = None,
        from_: Optional[int] = None,
        to: Optional[int] = None,
    ) -> Dict[str, int]:
        """Encrypts ``data`` (a DataFrame or dict; the schema's columns, any extra ignored)
        with ``keys_dir/public.key`` only and pushes it; returns once every upload is
        acknowledged: ``{"records", "uploads", "stored", "duplicates", "bytes"}``."""
        return self._push(dataset, _columns(data), keys_dir, dict(decimals or {}), bool(skip_missing), rows_per_upload, idempotency_key, from_, to)

    def describe(self, dataset: str, columns: Sequence[str], **filters: Any) -> EncryptedResult:
        """Every statistic of ``columns`` in one query (decrypts to a DataFrame)."""
        return self.query(dataset, stats=[(s, c) for c in columns for s in statistics()], **filters)


def describe(server: Server, table: EncryptedTable, columns: Optional[Sequence[str]] = None) -> EncryptedResult:
    """Every statistic of ``columns`` (default: all of the table's) in one evaluation."""
    names = list(columns) if columns is not None else table.columns
    return server.stats(table, [(s, c) for c in names for s in statistics()])


__all__.append("describe")
