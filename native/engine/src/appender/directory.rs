//! Names and layouts: the client names servers by `host:port` and registers layouts by
//! number; the machine works with ServerIds and shared Layouts. Both drivers of the
//! machine (the thread in mod.rs, and the one the simulator runs through the addon's
//! AppendMachine) keep one of these.

use std::collections::HashMap;
use std::sync::Arc;

use super::machine::{Layout, ServerId};

/// A layout as the client names it: servers by `host:port`.
#[derive(Debug, Clone)]
pub struct LayoutSpec {
    pub epoch: u64,
    pub timeout_ms: u64,
    pub sequencer: String,
    pub start: u64,
    pub end: Option<u64>,
    pub chains: Vec<Vec<String>>,
}

#[derive(Debug, Default)]
pub struct Directory {
    names: Vec<String>,
    by_name: HashMap<String, ServerId>,
    layouts: HashMap<u32, Arc<Layout>>,
}

impl Directory {
    /// Servers named so far (ServerIds are 0..this).
    pub fn servers(&self) -> usize {
        self.names.len()
    }

    pub fn name(&self, server: ServerId) -> &str {
        &self.names[server]
    }

    pub fn find(&self, name: &str) -> Option<ServerId> {
        self.by_name.get(name).copied()
    }

    fn server(&mut self, name: &str) -> ServerId {
        if let Some(id) = self.find(name) {
            return id;
        }
        self.names.push(name.to_string());
        self.by_name.insert(name.to_string(), self.names.len() - 1);
        self.names.len() - 1
    }

    pub fn add_layout(&mut self, id: u32, spec: &LayoutSpec) {
        let sequencer = self.server(&spec.sequencer);
        let chains = spec.chains.iter().map(|c| c.iter().map(|u| self.server(u)).collect()).collect();
        let layout = Layout { epoch: spec.epoch, timeout_ns: spec.timeout_ms * 1_000_000, sequencer, start: spec.start, end: spec.end, chains };
        self.layouts.insert(id, Arc::new(layout));
    }

    pub fn forget(&mut self, id: u32) {
        self.layouts.remove(&id);
    }

    pub fn layout(&self, id: u32) -> Option<&Arc<Layout>> {
        self.layouts.get(&id)
    }
}
