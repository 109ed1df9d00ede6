mod jsonnet;
mod network_policies;
