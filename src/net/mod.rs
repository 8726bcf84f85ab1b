//! Native std-networking adapters.
