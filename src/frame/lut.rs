//! Per-frame-type validation rules as a 256-entry table indexed by the type byte
//! (fixed/min/max payload length, allowed flags, stream id 0 or not), so the header
//! check is one lookup instead of a chain of generic comparisons.
