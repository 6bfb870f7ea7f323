//! `DynamicNamespace`: namespaces created on demand, for names matching a
//! pattern or a predicate.

use super::{Namespace, NamespaceConfig, NamespaceHandlers};
use crate::handler::{ConnectHandler, Middleware};
use crate::value::Value;
use crate::vocab::EmitError;
use parking_lot::RwLock;
use serde::Serialize;
use smol_str::SmolStr;
use std::sync::Arc;

/// Decides whether a name (with the CONNECT auth payload) is a namespace.
pub(crate) type Predicate = Box<dyn Fn(&str, &Value) -> bool + Send + Sync>;

/// How a dynamic namespace recognizes names.
pub(crate) enum Matcher {
    Pattern(regex_lite::Regex),
    Predicate(Predicate),
}

impl Matcher {
    fn matches(&self, name: &str, auth: &Value) -> bool {
        match self {
            Matcher::Pattern(re) => re.is_match(name),
            Matcher::Predicate(f) => f(name, auth),
        }
    }
}

/// Namespaces created on demand for names that match (Node's
/// `io.of(/^\/room-\d+$/)`). Handlers and middlewares registered here
/// apply to every namespace it creates.
#[derive(Clone)]
pub struct DynamicNamespace(pub(crate) Arc<DynamicInner>);

pub(crate) struct DynamicInner {
    matcher: Matcher,
    handlers: Arc<NamespaceHandlers>,
    children: RwLock<Vec<Namespace>>,
}

impl DynamicNamespace {
    pub(crate) fn new(matcher: Matcher) -> Self {
        DynamicNamespace(Arc::new(DynamicInner {
            matcher,
            handlers: Arc::new(NamespaceHandlers::default()),
            children: RwLock::new(Vec::new()),
        }))
    }

    /// Registers a handler for sockets connecting to any matching namespace.
    pub fn on_connection(&self, handler: impl ConnectHandler) {
        self.0.handlers.connection.write().push(Arc::new(handler));
    }

    /// Adds a middleware for every matching namespace.
    pub fn use_middleware(&self, middleware: impl Middleware) {
        self.0
            .handlers
            .middlewares
            .write()
            .push(Arc::new(middleware));
    }

    /// The namespaces created so far.
    pub fn children(&self) -> Vec<Namespace> {
        self.0.children.read().clone()
    }

    /// Emits an event to every socket of every created namespace.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        for ns in self.children() {
            ns.emit(event, data)?;
        }
        Ok(())
    }
}

impl DynamicInner {
    /// Whether `name` (with this CONNECT auth) is one of these namespaces.
    pub(crate) fn matches(&self, name: &str, auth: &Value) -> bool {
        self.matcher.matches(name, auth)
    }

    /// Creates the namespace `name` (which matches).
    pub(crate) fn create(&self, name: &str, config: &Arc<NamespaceConfig>) -> Namespace {
        let ns = Namespace::new(SmolStr::new(name), config.clone(), self.handlers.clone());
        self.children.write().push(ns.clone());
        ns
    }
}
