//! Tokens, roles and the checks every endpoint makes.
//!
//! - A token is `rv_` and 64 lowercase hex digits: 32 bytes from the operating system's
//!   random source. The store keeps only its SHA-256; a request's token is hashed, looked up
//!   by digest, and the stored digest compared with the computed one in constant time.
//!   Tokens are never logged (the request log has method, path, status and latency).
//! - Roles: the **operator** creates, lists and deletes datasets; a dataset's **owner**
//!   uploads its keys, issues, lists and revokes its device tokens, uploads, queries and
//!   fetches its jobs (and may list or delete its own dataset); a **device** appends uploads
//!   to its dataset and reads its public key and schema (what it encrypts with), nothing else.
//! - Answers: no, malformed, unknown or revoked token → 401. A valid token of the wrong role,
//!   or of another dataset → 403, whether or not that dataset exists (so owners and devices
//!   learn nothing about other datasets). 404 only once the caller may see the dataset: the
//!   operator on its routes, or an owner whose dataset was deleted meanwhile.
//! - Revocation is a committed write; the next request with that token reads the record
//!   and is refused. Nothing is cached, so no restart is needed.
//! - On first start the operator token is written to `DIR/operator.token` (created with mode
//!   0600) and its digest committed; later starts read only the digest from the store.

use std::io::Write;
use std::path::Path;

use axum::http::HeaderMap;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{ApiError, VaultError};
use crate::store::{hex, Op, Role, Store, StoreError, TokenRecord};

/// The prefix of every token.
pub(crate) const TOKEN_PREFIX: &str = "rv_";
/// The operator token's file in the data directory.
pub(crate) const OPERATOR_TOKEN_FILE: &str = "operator.token";

/// `n` random bytes from the operating system.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], String> {
    let mut b = [0u8; N];
    OsRng.try_fill_bytes(&mut b).map_err(|e| format!("the operating system's random source failed: {e}"))?;
    Ok(b)
}

/// A random id: 16 hex digits (64 bits).
pub(crate) fn random_id() -> Result<String, ApiError> {
    random_bytes::<8>().map(|b| hex(&b)).map_err(ApiError::internal)
}

/// The SHA-256 of a token.
pub(crate) fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A new token and its digest.
pub(crate) fn new_token() -> Result<(String, [u8; 32]), String> {
    let token = format!("{TOKEN_PREFIX}{}", hex(&random_bytes::<32>()?));
    let d = digest(&token);
    Ok((token, d))
}

/// Whether `t` has a token's shape (`rv_` + 64 lowercase hex digits).
pub(crate) fn well_formed(t: &str) -> bool {
    t.strip_prefix(TOKEN_PREFIX).is_some_and(|h| h.len() == 64 && h.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')))
}

/// The bearer token of a request.
pub(crate) fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let Some(v) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Err(ApiError::unauthorized("missing token: send the header Authorization: Bearer <token>"));
    };
    let v = v.to_str().map_err(|_| ApiError::unauthorized("malformed Authorization header: expected Bearer <token>"))?;
    let Some((scheme, token)) = v.split_once(' ') else {
        return Err(ApiError::unauthorized("malformed Authorization header: expected Bearer <token>"));
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::unauthorized("malformed Authorization header: expected the Bearer scheme"));
    }
    let token = token.trim();
    if !well_formed(token) {
        return Err(ApiError::unauthorized("malformed token: expected rv_ followed by 64 lowercase hex digits"));
    }
    Ok(token)
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Caller {
    pub(crate) role: Role,
    pub(crate) dataset: Option<String>,
    pub(crate) device: Option<String>,
}

/// Looks a token up (by digest, compared in constant time).
pub(crate) fn authenticate(store: &Store, token: &str) -> Result<Caller, ApiError> {
    if !well_formed(token) {
        return Err(ApiError::unauthorized("malformed token: expected rv_ followed by 64 lowercase hex digits"));
    }
    let d = digest(token);
    let unknown = || ApiError::unauthorized("unknown token");
    let rec = store.token(&d).map_err(ApiError::from)?.ok_or_else(unknown)?;
    if !bool::from(rec.digest.as_bytes().ct_eq(hex(&d).as_bytes())) {
        return Err(unknown());
    }
    if rec.revoked {
        return Err(ApiError::unauthorized("this token was revoked"));
    }
    Ok(Caller { role: rec.role, dataset: rec.dataset, device: rec.device })
}

impl Caller {
    fn role_name(&self) -> &'static str {
        match self.role {
            Role::Operator => "the operator token",
            Role::Owner => "an owner token",
            Role::Device => "a device token",
        }
    }

    /// The operator only.
    pub(crate) fn operator(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Operator => Ok(()),
            _ => Err(ApiError::forbidden(format!("this endpoint needs the operator token, not {}", self.role_name()))),
        }
    }

    /// The owner of `dataset` only.
    pub(crate) fn owner_of(&self, dataset: &str) -> Result<(), ApiError> {
        match self.role {
            Role::Owner if self.dataset.as_deref() == Some(dataset) => Ok(()),
            Role::Owner => Err(ApiError::forbidden("this owner token belongs to another dataset")),
            _ => Err(ApiError::forbidden(format!("this endpoint needs the dataset owner's token, not {}", self.role_name()))),
        }
    }

    /// The operator, or the owner of `dataset`.
    pub(crate) fn operator_or_owner_of(&self, dataset: &str) -> Result<(), ApiError> {
        match self.role {
            Role::Operator => Ok(()),
            Role::Owner if self.dataset.as_deref() == Some(dataset) => Ok(()),
            Role::Owner => Err(ApiError::forbidden("this owner token belongs to another dataset")),
            Role::Device => Err(ApiError::forbidden("a device token may only upload and read the public key")),
        }
    }

    /// The owner or a device of `dataset`; returns the device's id for a device.
    pub(crate) fn owner_or_device_of(&self, dataset: &str) -> Result<Option<String>, ApiError> {
        match self.role {
            Role::Owner | Role::Device if self.dataset.as_deref() == Some(dataset) => Ok(self.device.clone()),
            Role::Owner | Role::Device => Err(ApiError::forbidden("this token belongs to another dataset")),
            Role::Operator => Err(ApiError::forbidden("this endpoint needs the dataset owner's or a device's token, not the operator token")),
        }
    }

    /// An owner (of whichever dataset); returns it.
    pub(crate) fn owner(&self) -> Result<&str, ApiError> {
        match (self.role, self.dataset.as_deref()) {
            (Role::Owner, Some(d)) => Ok(d),
            _ => Err(ApiError::forbidden(format!("this endpoint needs a dataset owner's token, not {}", self.role_name()))),
        }
    }
}

/// Creates the operator token on first start: writes it to `DIR/operator.token` (mode 0600)
/// and commits its digest. Returns the new token, or `None` when one exists already.
pub(crate) async fn init_operator(store: &Store, data: &Path) -> Result<Option<String>, VaultError> {
    if store.operator_digest().map_err(|e| VaultError::Store(e.to_string()))?.is_some() {
        return Ok(None);
    }
    let (token, d) = new_token().map_err(VaultError::Server)?;
    let path = data.join(OPERATOR_TOKEN_FILE);
    // A file without a committed digest is from an interrupted first start: replace it.
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(VaultError::io(&path, &e)),
    }
    write_secret_file(&path, format!("{token}\n").as_bytes()).map_err(|e| VaultError::io(&path, &e))?;
    let record = TokenRecord { role: Role::Operator, dataset: None, device: None, name: "operator".into(), revoked: false, digest: hex(&d), created: crate::api::unix_now() };
    match store.submit(Op::InitOperator { digest: d, record }).await {
        Ok(_) => Ok(Some(token)),
        Err(StoreError::Conflict(_)) => Ok(None),
        Err(e) => Err(VaultError::Store(e.to_string())),
    }
}

/// Creates `path` with mode 0600 (never wider, not even for an instant), writes `bytes`,
/// and fsyncs the file and its directory.
pub(crate) fn write_secret_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    if let Some(dir) = path.parent() {
        crate::keyfiles::sync_dir(dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::store::{DatasetRecord, DeviceRecord};

    #[test]
    fn tokens_are_256_bit_and_well_formed() {
        let (a, da) = new_token().unwrap();
        let (b, _) = new_token().unwrap();
        assert_ne!(a, b);
        assert!(well_formed(&a), "{a}");
        assert_eq!(a.len(), 3 + 64);
        assert_eq!(digest(&a), da);
        for bad in ["", "rv_", "rv_abc", &a.to_uppercase(), &a[..a.len() - 1], &format!("{a}0"), &a.replace("rv_", "xx_")] {
            assert!(!well_formed(bad), "{bad}");
        }
    }

    #[test]
    fn bearer_header_forms() {
        let (t, _) = new_token().unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h).unwrap_err().status, 401);
        h.insert("authorization", format!("Bearer {t}").parse().unwrap());
        assert_eq!(bearer(&h).unwrap(), t);
        h.insert("authorization", format!("bearer  {t} ").parse().unwrap());
        assert_eq!(bearer(&h).unwrap(), t);
        for bad in [format!("Basic {t}"), t.clone(), "Bearer rv_nope".into()] {
            h.insert("authorization", bad.parse().unwrap());
            let e = bearer(&h).unwrap_err();
            assert_eq!(e.status, 401);
            assert!(!e.message.contains(&t[3..]), "a message never echoes the token");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lookup_by_digest_roles_and_revocation() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("vault.redb"), None).unwrap();
        let op = init_operator(&store, dir.path()).await.unwrap().expect("first start makes a token");
        let file = dir.path().join(OPERATOR_TOKEN_FILE);
        assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), op);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(init_operator(&store, dir.path()).await.unwrap(), None, "later starts keep the first token");
        assert_eq!(authenticate(&store, &op).unwrap().role, Role::Operator);
        let (stranger, _) = new_token().unwrap();
        assert_eq!(authenticate(&store, &stranger).unwrap_err().message, "unknown token");

        let (owner, od) = new_token().unwrap();
        let rec = DatasetRecord { id: "d1".into(), name: "n".into(), schema: crate::store::tests::schema(), created: 0, keys: None, records: 0, bytes: 0, uploads: 0, next_seq: 0, owner_digest: hex(&od) };
        let owner_rec = TokenRecord { role: Role::Owner, dataset: Some("d1".into()), device: None, name: "owner".into(), revoked: false, digest: hex(&od), created: 0 };
        store.submit(Op::CreateDataset { dataset: Box::new(rec), owner_digest: od, owner: owner_rec }).await.unwrap();
        let (dev, dd) = new_token().unwrap();
        let device = DeviceRecord { id: "m1".into(), name: "monitor".into(), revoked: false, uploads: 0, records: 0, created: 0, digest: hex(&dd) };
        let tok = TokenRecord { role: Role::Device, dataset: Some("d1".into()), device: Some("m1".into()), name: "monitor".into(), revoked: false, digest: hex(&dd), created: 0 };
        store.submit(Op::AddDevice { dataset: "d1".into(), device, digest: dd, token: tok }).await.unwrap();

        let o = authenticate(&store, &owner).unwrap();
        let d = authenticate(&store, &dev).unwrap();
        let op = authenticate(&store, &op).unwrap();
        assert!(o.owner_of("d1").is_ok() && o.owner_of("d2").is_err() && o.operator().is_err());
        assert_eq!(d.owner_or_device_of("d1").unwrap().as_deref(), Some("m1"));
        assert!(d.owner_of("d1").is_err() && d.operator_or_owner_of("d1").is_err() && d.owner_or_device_of("d2").is_err());
        assert!(op.operator().is_ok() && op.operator_or_owner_of("d9").is_ok() && op.owner_of("d1").is_err() && op.owner_or_device_of("d1").is_err());
        assert_eq!(o.owner().unwrap(), "d1");

        store.submit(Op::RevokeDevice { dataset: "d1".into(), device: "m1".into() }).await.unwrap();
        assert_eq!(authenticate(&store, &dev).unwrap_err().message, "this token was revoked");
        assert!(authenticate(&store, &owner).is_ok());
        store.close();
    }
}
