//! The texture a plan copies matrix operands into on software adapters
//! ([`MatmulVariant::Textured`]): one
//! `rgba32float` texture shared by every textured product of the plan (each launch copies
//! its operands in just before it runs, so the texture holds one launch's operands at a
//! time). An operand fills whole texel rows, four elements a texel and [`TEXEL_ROW`] texels
//! a row, in its storage order; A from the first row, B from the row after A's last. An
//! operand whose rows do not come in fours is packed there by a kernel launch
//! ([`crate::backend::kernels::pack`]) instead of copied, each row padded to whole texels.

mod chunks;
pub(crate) mod copy;
mod texture;

pub(crate) use chunks::{TextureInput, input_chunks, textured_chunks, update_chunks};
pub(crate) use copy::OperandCopy;
pub(crate) use texture::OperandTextures;
