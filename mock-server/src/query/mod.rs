//! The query language: BSON ordering, dotted paths, filters, projections, sorts and the
//! small expression subset that projections and pipelines use.

pub mod compare;
pub mod expr;
pub mod filter;
pub mod path;
pub mod projection;
pub mod sort;

pub use filter::Filter;
pub use projection::Projection;
pub use sort::Sort;
