//! [`Chat`]: the handle every chat operation takes, in place of the
//! server's whole state. It carries what chat reaches beyond its arguments
//! (the store, the node and cluster control) and nothing else of the
//! server: no configuration, no protocol state, no JSON. The adapters
//! (native, Pusher, HTTP) hold one and pass it in.

use std::sync::Arc;

use parley_core::Node;
use parley_store::Store;

use crate::cluster::control::Control;

/// The chat service: the store, the node and cluster control. Cloning is
/// cheap (one shared allocation), so an HTTP handler takes its own.
#[derive(Clone)]
pub struct Chat {
    parts: Arc<Parts>,
}

struct Parts {
    store: Store,
    node: Arc<Node>,
    control: Control,
}

impl Chat {
    /// The chat service over `store` and `node`, whose actions on users'
    /// connections go through `control`.
    pub fn new(store: Store, node: Arc<Node>, control: Control) -> Self {
        Self {
            parts: Arc::new(Parts {
                store,
                node,
                control,
            }),
        }
    }

    /// The durable store of persisted channels.
    pub fn store(&self) -> &Store {
        &self.parts.store
    }

    /// The domain node.
    pub fn node(&self) -> &Arc<Node> {
        &self.parts.node
    }

    /// Control actions on users' connections, on every node.
    pub fn control(&self) -> &Control {
        &self.parts.control
    }
}
