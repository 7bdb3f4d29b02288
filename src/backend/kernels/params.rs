//! Each kernel family's parameter block: a `#[repr(C)]` plain-old-data struct laid out as the
//! WGSL `struct Params` its shader binds at binding 0 (tests/shaders.rs checks every field's
//! name and offset against naga's reflection of the shader). Launches carry them typed, and
//! whoever changes a launch's parameters changes a named field.

/// Declares a parameter block and [`ParamBlock::FIELDS`], its fields' names and offsets.
macro_rules! param_block {
    ($(#[doc = $doc:literal])* $name:ident { $($(#[doc = $fdoc:literal])* $field:ident: $ty:ty,)* }) => {
        $(#[doc = $doc])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
        pub struct $name {
            $($(#[doc = $fdoc])* pub $field: $ty,)*
        }

        impl ParamBlock for $name {
            const FIELDS: &'static [(&'static str, usize)] =
                &[$((stringify!($field), std::mem::offset_of!($name, $field))),*];
        }
    };
}

/// A parameter block: its fields, for checking it against the WGSL struct it binds.
pub trait ParamBlock: bytemuck::Pod {
    /// Each field's name and byte offset, in order.
    const FIELDS: &'static [(&'static str, usize)];
}

param_block! {
    /// `shaders/matmul.wgsl`.
    MatmulParams {
        /// Rows of C.
        m: u32,
        /// Columns of C.
        n: u32,
        /// The contracted extent.
        k: u32,
        /// Elements between consecutive matrices of A (0: one for all).
        batch_stride_a: u32,
        /// Elements between consecutive matrices of B (0: one for all).
        batch_stride_b: u32,
        /// Elements between consecutive matrices of C.
        batch_stride_c: u32,
        /// 1: add to C (a product split along k, after its first chunk).
        accumulate: u32,
        /// 0: no bias; 1: per row; 2: per column.
        bias_mode: u32,
        /// Batch entries each matrix of C sums.
        sum_over: u32,
        /// Batch entries of A and B.
        entries: u32,
        /// 1: store the fused activation (`ACTIVATION`) of the (biased) product; a product
        /// summed over several launches sets it in its last.
        activate: u32,
        /// The launch's first matrix of C (a textured product cut along its batch).
        z0: u32,
        /// Texels before A's first element that the launch reads (wrapping).
        origin_a: u32,
        /// Texels before B's first element that the launch reads (wrapping).
        origin_b: u32,
        /// The first batch entry the launch sums.
        entry_lo: u32,
        /// The batch entry past the last one the launch sums.
        entry_hi: u32,
        /// How an operand stored along k lies in the texture: 0, rows contiguous; else this
        /// many rows to a texel row.
        runs: u32,
        /// Texels between consecutive matrices of A in the texture.
        tex_stride_a: u32,
        /// Texels between consecutive matrices of B in the texture.
        tex_stride_b: u32,
    }
}

param_block! {
    /// `shaders/elementwise.wgsl`.
    ElementwiseParams {
        /// The output's dims, right-aligned to four.
        shape: [u32; 4],
        /// a's strides over the output (0 on broadcast axes).
        stride_a: [u32; 4],
        /// b's strides over the output.
        stride_b: [u32; 4],
        /// Elements of the output.
        n: u32,
        /// The op's scalar.
        alpha: f32,
        /// Dropout's seed.
        seed: u32,
        /// The plan's run number (dropout's mask changes every run).
        step: u32,
        /// The index of the launch's first element in the whole tensor.
        first: u32,
        /// Padding.
        _pad0: u32,
        /// Padding.
        _pad1: u32,
        /// Padding.
        _pad2: u32,
    }
}

param_block! {
    /// `shaders/reduce.wgsl`.
    ReduceParams {
        /// Extent of each kept axis, 1 on reduced ones.
        out_shape: [u32; 4],
        /// Extent of each reduced axis, 1 on kept ones (`sum_channels_tex`: the launch's
        /// images in axis 0).
        red_shape: [u32; 4],
        /// The input's row-major strides.
        in_stride: [u32; 4],
        /// Outputs.
        n_out: u32,
        /// Elements reduced into each.
        n_red: u32,
        /// Multiplies a sum.
        factor: f32,
        /// 1: combine with the output's current value.
        accumulate: u32,
    }
}

param_block! {
    /// `shaders/loss.wgsl`.
    LossParams {
        /// Elements, or rows for the losses of class indices.
        items: u32,
        /// Classes per row (1 for elementwise losses).
        c: u32,
        /// 1 / items of the whole prediction.
        scale: f32,
        /// 1: add to the loss already there.
        accumulate: u32,
    }
}

param_block! {
    /// `shaders/batch_norm.wgsl`.
    BatchNormParams {
        /// Items of x in the launch.
        batch: u32,
        /// Channels.
        channels: u32,
        /// Elements of an item's channel (H·W, L or 1).
        inner: u32,
        /// Added to the variance.
        eps: f32,
        /// 1: the statistics are the batch's own.
        from_batch: u32,
        /// Padding.
        _pad0: u32,
        /// Padding.
        _pad1: u32,
        /// Padding.
        _pad2: u32,
    }
}

param_block! {
    /// `shaders/recurrent.wgsl`.
    RecurrentParams {
        /// Output elements.
        count: u32,
        /// State features H.
        hidden: u32,
        /// Padding.
        _pad0: u32,
        /// Padding.
        _pad1: u32,
    }
}

param_block! {
    /// `shaders/scan.wgsl`.
    ScanParams {
        /// Steps T.
        steps: u32,
        /// Batch rows B.
        batch: u32,
        /// State features H.
        hidden: u32,
        /// Padding.
        _pad0: u32,
    }
}

param_block! {
    /// `shaders/softmax.wgsl`.
    SoftmaxParams {
        /// Rows.
        rows: u32,
        /// Elements of a row.
        c: u32,
        /// Padding.
        _pad0: u32,
        /// Padding.
        _pad1: u32,
    }
}

param_block! {
    /// `shaders/optim.wgsl`: an optimizer's settings at one step, or a running average's
    /// (momentum in `lr`, the factor in `beta1`).
    OptimParams {
        /// Elements updated (`adam_tex`: the last one the launch updates, plus one).
        n: u32,
        /// Learning rate.
        lr: f32,
        /// SGD's momentum; Adam's β₁.
        beta1: f32,
        /// Adam's β₂.
        beta2: f32,
        /// Added to denominators.
        eps: f32,
        /// L2 penalty.
        weight_decay: f32,
        /// Adam's lr / (1 − β₁ᵗ).
        step_size: f32,
        /// Adam's √(1 − β₂ᵗ).
        bias2_sqrt: f32,
        /// 1: Nesterov momentum.
        nesterov: u32,
        /// Padding.
        _pad0: u32,
        /// Padding.
        _pad1: u32,
        /// Padding.
        _pad2: u32,
        /// `adam_tex`: the first element the launch updates.
        first: u32,
        /// `adam_tex`: texels from one array to the next in the texture.
        tex_stride: u32,
        /// Padding.
        _pad3: u32,
        /// Padding.
        _pad4: u32,
    }
}

param_block! {
    /// `shaders/conv2d.wgsl`: a convolution, its gradients, im2col and col2im.
    Conv2dParams {
        /// Images.
        n: u32,
        /// Input channels.
        c: u32,
        /// Input height.
        h: u32,
        /// Input width.
        w: u32,
        /// Filters.
        k: u32,
        /// Output height.
        oh: u32,
        /// Output width.
        ow: u32,
        /// Window height.
        kh: u32,
        /// Window width.
        kw: u32,
        /// Vertical stride.
        stride_h: u32,
        /// Horizontal stride.
        stride_w: u32,
        /// Rows of zeros above and below.
        pad_h: u32,
        /// Columns of zeros left and right.
        pad_w: u32,
        /// `col2im_tex`: the launch's first image.
        first: u32,
        /// Padding.
        _pad1: u32,
        /// Padding.
        _pad2: u32,
    }
}

param_block! {
    /// `shaders/conv2d_taps.wgsl`.
    Conv2dTapsParams {
        /// Images.
        n: u32,
        /// Input channels.
        c: u32,
        /// Input height.
        h: u32,
        /// Input width.
        w: u32,
        /// Filters.
        k: u32,
        /// Output height.
        oh: u32,
        /// Output width.
        ow: u32,
        /// Rows of zeros above and below.
        pad_h: u32,
        /// Columns of zeros left and right.
        pad_w: u32,
        /// Invocations along a row of output pixels: ⌈ow / 4⌉.
        quads: u32,
        /// Padding.
        _pad0: u32,
        /// Padding.
        _pad1: u32,
    }
}

param_block! {
    /// `shaders/pool2d.wgsl`.
    Pool2dParams {
        /// Planes (images × channels) of the launch.
        planes: u32,
        /// Input height.
        h: u32,
        /// Input width.
        w: u32,
        /// Output height.
        oh: u32,
        /// Output width.
        ow: u32,
        /// Window height.
        kh: u32,
        /// Window width.
        kw: u32,
        /// Vertical stride.
        stride_h: u32,
        /// Horizontal stride.
        stride_w: u32,
        /// Rows of padding.
        pad_h: u32,
        /// Columns of padding.
        pad_w: u32,
        /// `max_backward_tiling`: 1 where the gradient goes through the ReLU x came from.
        relu: u32,
        /// Textured launches: the first plane.
        first: u32,
    }
}

param_block! {
    /// `shaders/layout.wgsl`.
    LayoutParams {
        /// Elements of the output.
        count: u32,
        /// pad and concat: the axis.
        axis: u32,
        /// strided_copy: a's element offset; pad: where a starts; concat: a's extent.
        start: u32,
        /// pad: a's extent along the axis; one_hot: the classes.
        extent: u32,
        /// The output's dims.
        dims: [u32; 4],
        /// strided_copy: a's stride for each output axis.
        strides: [u32; 4],
    }
}

param_block! {
    /// `shaders/pack.wgsl`.
    PackParams {
        /// The first element of the first matrix.
        offset: u32,
        /// Elements between matrices.
        matrix_stride: u32,
        /// Matrices.
        matrices: u32,
        /// Stored rows of a matrix.
        rows: u32,
        /// Elements of each row.
        cols: u32,
        /// Rows written per matrix (then zero rows).
        padded_rows: u32,
        /// Texels per row.
        cols4: u32,
        /// The texel the first matrix starts at.
        first_texel: u32,
        /// Elements between the starts of consecutive rows.
        row_stride: u32,
    }
}

/// A launch's parameter block, typed by its family.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Params {
    /// A matrix product's.
    Matmul(MatmulParams),
    /// An elementwise op's.
    Elementwise(ElementwiseParams),
    /// A reduction's.
    Reduce(ReduceParams),
    /// A loss's.
    Loss(LossParams),
    /// A softmax's.
    Softmax(SoftmaxParams),
    /// A batch norm kernel's.
    BatchNorm(BatchNormParams),
    /// A recurrent cell step's.
    Recurrent(RecurrentParams),
    /// A recurrent scan's.
    Scan(ScanParams),
    /// An optimizer update's or a running average's.
    Optim(OptimParams),
    /// A convolution kernel's.
    Conv2d(Conv2dParams),
    /// A direct convolution of few taps.
    Conv2dTaps(Conv2dTapsParams),
    /// A pooling's.
    Pool2d(Pool2dParams),
    /// A layout op's.
    Layout(LayoutParams),
    /// A pack launch's.
    Pack(PackParams),
}

impl Params {
    /// The block as the uniform buffer holds it.
    pub fn words(&self) -> &[u32] {
        match self {
            Params::Matmul(p) => bytemuck::cast_slice(std::slice::from_ref(p)),
            Params::Elementwise(p) => bytemuck::cast_slice(std::slice::from_ref(p)),
            Params::Reduce(p) => bytemuck::cast_slice(std::slice::from_ref(p)),
            Params::Loss(p) => bytemuck::cast_slice(std::slice::from_ref(p)),
            Params::Softmax(p) => bytemuck::cast_slice(std::slice::from_ref(p)),
            Params::BatchNorm(p) => bytemuck::cast_slice(std::slice::from_ref(p)),
            Params::Recurrent(p) => bytemuck::cast_slice(std::slice::from_ref(p)),
            Params::Scan(p) => bytemuck::cast_slice(std::slice::from_ref(p)),
            Params::Optim(p) => bytemuck::cast_slice(std::slice::from_ref(p)),
            Params::Conv2d(p) => bytemuck::cast_slice(std::slice::from_ref(p)),
            Params::Conv2dTaps(p) => bytemuck::cast_slice(std::slice::from_ref(p)),
            Params::Pool2d(p) => bytemuck::cast_slice(std::slice::from_ref(p)),
            Params::Layout(p) => bytemuck::cast_slice(std::slice::from_ref(p)),
            Params::Pack(p) => bytemuck::cast_slice(std::slice::from_ref(p)),
        }
    }
}

/// `Params::matmul_mut` and its kin: the block as its family's, where it is that family's
/// (a launch whose family the caller knows).
macro_rules! accessors {
    ($($variant:ident $ty:ident $get:ident $get_mut:ident;)*) => {
        impl Params {
            $(
                #[doc = concat!("The block, if it is a [`", stringify!($ty), "`].")]
                pub fn $get(&self) -> Option<&$ty> {
                    match self {
                        Params::$variant(p) => Some(p),
                        _ => None,
                    }
                }

                #[doc = concat!("The block to change, if it is a [`", stringify!($ty), "`].")]
                pub fn $get_mut(&mut self) -> Option<&mut $ty> {
                    match self {
                        Params::$variant(p) => Some(p),
                        _ => None,
                    }
                }
            )*
        }
    };
}

accessors! {
    Matmul MatmulParams matmul matmul_mut;
    Elementwise ElementwiseParams elementwise elementwise_mut;
    Reduce ReduceParams reduce reduce_mut;
    Optim OptimParams optim optim_mut;
    Conv2d Conv2dParams conv2d conv2d_mut;
    Pool2d Pool2dParams pool2d pool2d_mut;
}

/// A block's layout: the WGSL file that binds it, its size, and its fields' names and offsets.
pub type Layout = (&'static str, usize, &'static [(&'static str, usize)]);

/// Every family's block, for the layout test.
pub fn layouts() -> Vec<Layout> {
    fn of<T: ParamBlock>(file: &'static str) -> Layout {
        (file, std::mem::size_of::<T>(), T::FIELDS)
    }
    vec![
        of::<MatmulParams>("matmul.wgsl"),
        of::<ElementwiseParams>("elementwise.wgsl"),
        of::<ReduceParams>("reduce.wgsl"),
        of::<LossParams>("loss.wgsl"),
        of::<SoftmaxParams>("softmax.wgsl"),
        of::<BatchNormParams>("batch_norm.wgsl"),
        of::<RecurrentParams>("recurrent.wgsl"),
        of::<ScanParams>("scan.wgsl"),
        of::<OptimParams>("optim.wgsl"),
        of::<Conv2dParams>("conv2d.wgsl"),
        of::<Conv2dTapsParams>("conv2d_taps.wgsl"),
        of::<Pool2dParams>("pool2d.wgsl"),
        of::<LayoutParams>("layout.wgsl"),
        of::<PackParams>("pack.wgsl"),
    ]
}
