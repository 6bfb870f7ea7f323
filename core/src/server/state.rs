//! `ServerState`: the Socket.IO part of a server that every session
//! shares — its namespaces and settings.

use crate::client::ClientSession;
use crate::limits::Refused;
use crate::namespace::dynamic::DynamicInner;
use crate::namespace::{Namespace, NamespaceConfig};
use crate::timer::FifoTimer;
use crate::value::Value;
use parking_lot::RwLock;
use smol_str::SmolStr;
use std::collections::HashMap;
use std::sync::{Arc, Weak};

/// The Socket.IO part of the server, shared by every session.
pub(crate) struct ServerState {
    pub config: Arc<NamespaceConfig>,
    pub namespaces: RwLock<HashMap<SmolStr, Namespace>>,
    pub dynamic: RwLock<Vec<Arc<DynamicInner>>>,
    /// Namespaces created by dynamic namespaces so far.
    pub dynamic_created: std::sync::atomic::AtomicUsize,
    pub connect_timeouts: FifoTimer<Weak<ClientSession>>,
}

/// Why a CONNECT found no namespace.
pub(crate) enum NoNamespace {
    /// No namespace has that name, and no dynamic namespace matches it.
    Unknown,
    /// A dynamic namespace matches, but `max_dynamic_namespaces` is reached.
    TooMany,
}

impl ServerState {
    /// The namespace for a CONNECT: an existing one, or a new one from a
    /// matching dynamic namespace (within `max_dynamic_namespaces`).
    pub(crate) fn namespace_for(&self, name: &str, auth: &Value) -> Result<Namespace, NoNamespace> {
        use std::sync::atomic::Ordering;
        if let Some(ns) = self.namespaces.read().get(name) {
            return Ok(ns.clone());
        }
        let dynamic = self.dynamic.read().clone();
        for parent in dynamic {
            if !parent.matches(name, auth) {
                continue;
            }
            let max = self.config.limits.max_dynamic_namespaces;
            if self.dynamic_created.load(Ordering::Relaxed) >= max {
                crate::refused!(Refused::DynamicNamespaces, ns = %name, max, "dynamic namespace refused: the limit is reached");
                return Err(NoNamespace::TooMany);
            }
            let mut namespaces = self.namespaces.write();
            // Another connection may have created it meanwhile.
            if let Some(ns) = namespaces.get(name) {
                return Ok(ns.clone());
            }
            let ns = parent.create(name, &self.config);
            self.dynamic_created.fetch_add(1, Ordering::Relaxed);
            namespaces.insert(SmolStr::new(name), ns.clone());
            return Ok(ns);
        }
        Err(NoNamespace::Unknown)
    }
}
