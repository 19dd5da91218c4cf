//! The command's live display: what the `pardl` binary draws from the run's counters.
//!
//! [`layout`] turns a sample of the counters into lines of text (pure functions, tested on strings);
//! [`display`] is the renderer thread that samples ten times a second and draws the live area on a
//! terminal, or plain lines elsewhere. Nothing here is on the download path: the download threads
//! only add to atomics, and this module only reads them.

pub mod display;
pub mod layout;

pub use display::{Console, LogWriter, Renderer};
