//! Struct and union layout: field offsets, bitfields, packing, flexible arrays.
