//! The owner's key files: `secret.key` (the owner only), `public.key` (what encrypting needs),
//! `eval.keys` (what the server computes with). Each is a [`container`] of
//! one wire object per plaintext modulus whose header names the statistics parameters.

use std::path::Path;
use std::sync::Arc;

use serde_json::json;

use ringvault_core::Backend;
use ringvault_core::scheme::{Preset, PublicKey};
use ringvault_core::stats::{StatsContext, StatsKeys, StatsParameters, StatsSecretKey};

use crate::container::{self, Header};
use crate::AppError;

/// The owner's secret keys (written with mode 0600).
pub const SECRET_KEY: &str = "secret.key";
/// The public keys (all `encrypt` and a device need).
pub const PUBLIC_KEY: &str = "public.key";
/// The evaluation keys (relinearization and rotations, with the public keys) for the server.
pub const EVAL_KEYS: &str = "eval.keys";

/// A container header of `kind` for `params`.
pub(crate) fn header(kind: &str, params: &StatsParameters, objects: usize, meta: serde_json::Value) -> Header {
    Header { kind: kind.into(), version: container::VERSION, preset: params.preset().name().into(), moduli: params.moduli(), objects, meta }
}

/// The statistics parameters a header names (checked against this build's for the preset).
///
/// # Errors
/// [`AppError::Format`] for an unknown preset or other plaintext moduli.
pub fn params_of(h: &Header) -> Result<StatsParameters, AppError> {
    params_named(&h.preset, &h.moduli)
}

/// The statistics parameters of the preset named `preset`, checked to have `moduli`.
///
/// # Errors
/// [`AppError::Format`] for an unknown preset or other plaintext moduli.
pub fn params_named(preset: &str, moduli: &[u32]) -> Result<StatsParameters, AppError> {
    let p = Preset::from_name(preset).ok_or_else(|| AppError::Format(format!("unknown preset {preset:?}")))?;
    let params = StatsParameters::for_preset(p)?;
    if params.moduli() != moduli {
        return Err(AppError::Format(format!("plaintext moduli {moduli:?} differ from this build's {:?} for {preset}", params.moduli())));
    }
    Ok(params)
}

/// Reads a whole file.
///
/// # Errors
/// [`AppError::Io`] naming the path.
pub fn read_file(path: &Path) -> Result<Vec<u8>, AppError> {
    std::fs::read(path).map_err(|e| AppError::io(path, &e))
}

/// A freshly generated key set.
pub struct GeneratedKeys {
    /// The parameters.
    pub params: StatsParameters,
    /// The `secret.key` file.
    pub secret: Vec<u8>,
    /// The `public.key` file.
    pub public: Vec<u8>,
    /// The `eval.keys` file.
    pub eval: Vec<u8>,
}

/// Generates the owner's keys for `preset`: the relinearization key and the slot-sum
/// rotations, sized for tables of up to `max_records` records (the Galois keys serve only the
/// levels such totals are summed at: [`StatsParameters::key_plans`]).
///
/// # Errors
/// Key generation and serialization errors.
pub fn generate<B: Backend>(backend: Arc<B>, preset: Preset, max_records: u64) -> Result<GeneratedKeys, AppError> {
    let params = StatsParameters::for_preset(preset)?;
    let ctx = StatsContext::new(backend, params.clone())?;
    let mut rng = ringvault_core::scheme::sampling::default_rng();
    let (sk, keys) = ctx.generate_keys_for(max_records, &mut rng)?;
    let k = params.moduli().len();
    let secret = container::encode(&header("secret-keys", &params, k, json!({})), &sk.export_secret_objects())?;
    let public = public_file(&params, &keys)?;
    let eval = container::encode(&header("evaluation-keys", &params, k, json!({})), &keys.to_objects()?)?;
    Ok(GeneratedKeys { params, secret, public, eval })
}

/// Generates keys into `dir` (`secret.key` with owner-only permissions); the parameters.
///
/// # Errors
/// As [`generate`]; I/O errors.
pub fn generate_into<B: Backend>(backend: Arc<B>, dir: &Path, preset: Preset, max_records: u64) -> Result<StatsParameters, AppError> {
    let g = generate(backend, preset, max_records)?;
    write_private(&dir.join(SECRET_KEY), &g.secret)?;
    write_file(&dir.join(PUBLIC_KEY), &g.public)?;
    write_file(&dir.join(EVAL_KEYS), &g.eval)?;
    Ok(g.params)
}

/// The `public.key` file of evaluation keys.
///
/// # Errors
/// Container errors.
pub fn public_file(params: &StatsParameters, keys: &StatsKeys) -> Result<Vec<u8>, AppError> {
    let objects = keys.public_key_objects();
    container::encode(&header("public-keys", params, objects.len(), json!({})), &objects)
}

/// The hex SHA-256 of a key set's public-key objects (in modulus order): names the key set an
/// encrypted table was made under.
pub fn public_key_digest<O: AsRef<[u8]>>(objects: &[O]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for o in objects.iter().map(AsRef::as_ref) {
        h.update((o.len() as u64).to_le_bytes());
        h.update(o);
    }
    crate::hex(&h.finalize())
}

/// Writes `bytes` to `path`, creating its directory.
///
/// # Errors
/// [`AppError::Io`].
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), AppError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| AppError::io(dir, &e))?;
    }
    std::fs::write(path, bytes).map_err(|e| AppError::io(path, &e))
}

/// Writes `bytes` to `path` readable by the owner only (mode 0600 where the platform has
/// modes, set when the file is created).
///
/// # Errors
/// [`AppError::Io`].
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), AppError> {
    use std::io::Write as _;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| AppError::io(dir, &e))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        // An existing file keeps its mode on open: tighten it first.
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| AppError::io(path, &e))?;
        }
    }
    let mut f = options.open(path).map_err(|e| AppError::io(path, &e))?;
    f.write_all(bytes).map_err(|e| AppError::io(path, &e))
}

/// A key file's context (from its header) and its objects, after checking the kind.
fn open<'a, B: Backend>(backend: Arc<B>, bytes: &'a [u8], kind: &str) -> Result<(StatsContext<B>, Vec<&'a [u8]>), AppError> {
    let (h, objects) = container::parse(bytes, &[kind]).map_err(AppError::Format)?;
    let ctx = StatsContext::new(backend, params_of(&h)?)?;
    Ok((ctx, objects))
}

/// The context and public keys of a `public.key` file.
///
/// # Errors
/// [`AppError::Format`] for a file of another kind or parameters; wire errors.
pub fn open_public<B: Backend>(backend: Arc<B>, bytes: &[u8]) -> Result<(StatsContext<B>, Vec<PublicKey>), AppError> {
    let (ctx, objects) = open(backend, bytes, "public-keys")?;
    let keys = ctx.public_keys_from_objects(&objects)?;
    Ok((ctx, keys))
}

/// The context and evaluation keys of an `eval.keys` file.
///
/// # Errors
/// As [`open_public`].
pub fn open_eval<B: Backend>(backend: Arc<B>, bytes: &[u8]) -> Result<(StatsContext<B>, StatsKeys), AppError> {
    let (ctx, objects) = open(backend, bytes, "evaluation-keys")?;
    let keys = ctx.keys_from_objects(&objects)?;
    Ok((ctx, keys))
}

/// The owner's secret from a `secret.key` file, for `ctx`'s parameters.
///
/// # Errors
/// [`AppError::Format`] for a file of another kind or key set; wire errors.
pub fn open_secret<B: Backend>(ctx: &StatsContext<B>, bytes: &[u8]) -> Result<StatsSecretKey, AppError> {
    let (h, objects) = container::parse(bytes, &["secret-keys"]).map_err(AppError::Format)?;
    if params_of(&h)?.moduli() != ctx.params().moduli() || h.preset != ctx.params().preset().name() {
        return Err(AppError::Format("secret.key belongs to another key set".into()));
    }
    Ok(ctx.secret_key_from_objects(&objects)?)
}
