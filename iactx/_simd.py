"""Eight-lane vector operations for numba kernels, written as LLVM intrinsics.

LLVM's loop vectoriser handles long loops well but not the short, fixed
loops of charge extraction (40 samples, 6 neighbours): it unrolls for 64
or more elements and leaves shorter trip counts to scalar remainder code,
and it never vectorises a floating-point maximum without fast-math. These
intrinsics let a kernel say explicitly what it wants, eight float32 lanes
(one AVX register) at a time, with IEEE semantics lane by lane: nothing
is reordered, so a kernel using them gives the same bits as its scalar
form. They compile on every LLVM target (the backend splits or scalarises
vectors where the host has no 256-bit registers).

Only numba and llvmlite are used here.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

__all__ = [
    "LANES",
    "float32x8",
    "load8",
    "load8_first",
    "store8",
    "splat8",
    "add8",
    "sub8",
    "max8",
    "abs8",
    "allmax8",
    "hmax8",
    "mask_ge8",
    "popcount",
    "trailing_zeros",
    "window_extract8",
]

#: lanes per vector
LANES = 8

_I1 = ir.IntType(1)
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_F32 = ir.FloatType()
_F64 = ir.DoubleType()
_F32V = ir.VectorType(_F32, LANES)
_F64V = ir.VectorType(_F64, LANES)
_I64V = ir.VectorType(_I64, LANES)
_MASK = ir.VectorType(_I1, LANES)
_LANE_INDEX = ir.Constant(_I64V, [_I64(i) for i in range(LANES)])


class Float32x8(types.Type):
    """numba type of eight float32 lanes (an LLVM ``<8 x float>``)."""

    def __init__(self):
        super().__init__(name="float32x8")


float32x8 = Float32x8()


@register_model(Float32x8)
class _Float32x8Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _F32V)


# --------------------------------------------------------------------------- IR helpers


def _splat(builder, value, vector_type):
    """``value`` in every lane of a vector of ``vector_type``."""
    vector = builder.insert_element(vector_type(ir.Undefined), value, _I32(0))
    return builder.shuffle_vector(vector, vector_type(ir.Undefined), ir.Constant(ir.VectorType(_I32, LANES),
                                                                                 [0] * LANES))


def _shuffle(builder, a, b, order):
    return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(_I32, LANES), order))


def _function(builder, name, result, arguments):
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(result, arguments), name)


def _item_pointer(context, builder, array_type, array, indices):
    ary = context.make_array(array_type)(context, builder, array)
    return cgutils.get_item_pointer2(context, builder, ary.data, cgutils.unpack_tuple(builder, ary.shape),
                                     cgutils.unpack_tuple(builder, ary.strides), array_type.layout, indices)


def _first_lanes(builder, n_valid):
    """Mask of the lanes below ``n_valid`` (an i64)."""
    return builder.icmp_signed("<", _LANE_INDEX, _splat(builder, n_valid, _I64V))


def _suffix(vector_type):
    """LLVM's name of a vector type in intrinsic names (``v8f32``, ``v8i64`` ...)."""
    element = vector_type.element
    name = "f32" if element == _F32 else ("f64" if element == _F64 else f"i{element.width}")
    return f"v{LANES}{name}"


def _masked_load(builder, pointer, vector_type, mask, fill):
    load = _function(builder, f"llvm.masked.load.{_suffix(vector_type)}.p0", vector_type,
                     [vector_type.as_pointer(), _I32, _MASK, vector_type])
    return builder.call(load, [builder.bitcast(pointer, vector_type.as_pointer()), _I32(4), mask, fill])


def _masked_store(builder, value, pointer, mask):
    store = _function(builder, f"llvm.masked.store.{_suffix(value.type)}.p0", ir.VoidType(),
                      [value.type, value.type.as_pointer(), _I32, _MASK])
    builder.call(store, [value, builder.bitcast(pointer, value.type.as_pointer()), _I32(4), mask])


def _is_vector(*values):
    return all(v == float32x8 for v in values)


# --------------------------------------------------------------------------- loads and stores


def _pointer(builder, address, element_type):
    return builder.inttoptr(address, element_type.as_pointer())


@intrinsic
def load8(typingctx, address):
    """The eight float32 at ``address`` (bytes, e.g. ``arr.ctypes.data``) as a vector (unaligned load).

    Addresses rather than arrays keep the helpers that pass them around
    free of reference counting, which would otherwise cost more than the
    arithmetic.
    """
    if not isinstance(address, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.load(_pointer(builder, args[0], _F32V), align=4)

    return float32x8(types.intp), codegen


@intrinsic
def load8_first(typingctx, address, n_valid, fill):
    """As :func:`load8`, but only lanes below ``n_valid`` are read; the others hold ``fill``."""
    if not (isinstance(address, types.Integer) and isinstance(n_valid, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        address_value, n_value, fill_value = args
        return _masked_load(builder, _pointer(builder, address_value, _F32V), _F32V,
                            _first_lanes(builder, n_value), _splat(builder, fill_value, _F32V))

    return float32x8(types.intp, types.intp, types.float32), codegen


@intrinsic
def store8(typingctx, address, value):
    """Store the eight lanes of ``value`` at ``address`` (bytes; unaligned)."""
    if not (isinstance(address, types.Integer) and _is_vector(value)):
        return None

    def codegen(context, builder, signature, args):
        builder.store(args[1], _pointer(builder, args[0], _F32V), align=4)
        return context.get_dummy_value()

    return types.none(types.intp, float32x8), codegen


# --------------------------------------------------------------------------- lane-wise arithmetic


@intrinsic
def splat8(typingctx, value):
    """A vector with ``value`` (rounded to float32) in every lane."""
    if not isinstance(value, (types.Float, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        return _splat(builder, context.cast(builder, args[0], signature.args[0], types.float32), _F32V)

    return float32x8(types.float32), codegen


def _lane_wise(name, build, doc):
    """An intrinsic ``name(a, b)`` of two vectors, its lanes ``build(builder, a, b)``."""

    def typer(typingctx, a, b):
        if not _is_vector(a, b):
            return None

        def codegen(context, builder, signature, args):
            return build(builder, *args)

        return float32x8(float32x8, float32x8), codegen

    typer.__name__ = typer.__qualname__ = name
    typer.__doc__ = doc
    return intrinsic(typer)


add8 = _lane_wise("add8", lambda builder, a, b: builder.fadd(a, b), "Lane-wise ``a + b``.")
sub8 = _lane_wise("sub8", lambda builder, a, b: builder.fsub(a, b), "Lane-wise ``a - b``.")
max8 = _lane_wise("max8", lambda builder, a, b: builder.select(builder.fcmp_ordered(">", a, b), a, b),
                  "Lane-wise ``a if a > b else b``.")


@intrinsic
def abs8(typingctx, a):
    """Lane-wise absolute value."""
    if not _is_vector(a):
        return None

    def codegen(context, builder, signature, args):
        return builder.call(_function(builder, f"llvm.fabs.v{LANES}f32", _F32V, [_F32V]), [args[0]])

    return float32x8(float32x8), codegen


def _spread_max(builder, vector):
    """Every lane holds the largest lane (by ``>``) after three shuffle steps."""
    for step in (4, 2, 1):
        other = _shuffle(builder, vector, _F32V(ir.Undefined), [i ^ step for i in range(LANES)])
        vector = builder.select(builder.fcmp_ordered(">", other, vector), other, vector)
    return vector


@intrinsic
def allmax8(typingctx, a):
    """A vector holding the largest lane of ``a`` in every lane (by ``>``; for finite lanes their maximum)."""
    if not _is_vector(a):
        return None

    def codegen(context, builder, signature, args):
        return _spread_max(builder, args[0])

    return float32x8(float32x8), codegen


@intrinsic
def hmax8(typingctx, a):
    """The largest lane of ``a`` as a scalar (as :func:`allmax8`)."""
    if not _is_vector(a):
        return None

    def codegen(context, builder, signature, args):
        return builder.extract_element(_spread_max(builder, args[0]), _I32(0))

    return types.float32(float32x8), codegen


@intrinsic
def mask_ge8(typingctx, a, b):
    """Bit ``i`` set where lane ``i`` of ``a`` is ``>=`` lane ``i`` of ``b`` (an int64, 8 bits used)."""
    if not _is_vector(a, b):
        return None

    def codegen(context, builder, signature, args):
        bits = builder.bitcast(builder.fcmp_ordered(">=", args[0], args[1]), ir.IntType(LANES))
        return builder.zext(bits, _I64)

    return types.int64(float32x8, float32x8), codegen


def _bit_count(name, build, doc):
    """An intrinsic ``name(x)`` of an integer, computed as ``build(builder, x as int64)``."""

    def typer(typingctx, x):
        if not isinstance(x, types.Integer):
            return None

        def codegen(context, builder, signature, args):
            return build(builder, context.cast(builder, args[0], signature.args[0], types.int64))

        return types.int64(types.int64), codegen

    typer.__name__ = typer.__qualname__ = name
    typer.__doc__ = doc
    return intrinsic(typer)


popcount = _bit_count(
    "popcount", lambda builder, x: builder.call(_function(builder, "llvm.ctpop.i64", _I64, [_I64]), [x]),
    "Number of set bits of an int64.")
# the flag 0 asks cttz for 64 (not an undefined value) at zero
trailing_zeros = _bit_count(
    "trailing_zeros",
    lambda builder, x: builder.call(_function(builder, "llvm.cttz.i64", _I64, [_I64, _I1]), [x, _I1(0)]),
    "Index of the lowest set bit of an int64 (64 for 0).")


# --------------------------------------------------------------------------- window sums


def _transpose(builder, rows):
    """8 x 8 transpose of eight vectors: ``out[j]`` holds element ``j`` of every row."""
    pairs = []
    for i in range(0, LANES, 2):
        pairs.append(_shuffle(builder, rows[i], rows[i + 1], [0, 8, 1, 9, 4, 12, 5, 13]))
        pairs.append(_shuffle(builder, rows[i], rows[i + 1], [2, 10, 3, 11, 6, 14, 7, 15]))
    quads = []
    for i in (0, 1, 4, 5):
        quads.append(_shuffle(builder, pairs[i], pairs[i + 2], [0, 1, 8, 9, 4, 5, 12, 13]))
        quads.append(_shuffle(builder, pairs[i], pairs[i + 2], [2, 3, 10, 11, 6, 7, 14, 15]))
    out = [None] * LANES
    for k in range(4):
        out[k] = _shuffle(builder, quads[k], quads[k + 4], [0, 1, 2, 3, 8, 9, 10, 11])
        out[k + 4] = _shuffle(builder, quads[k], quads[k + 4], [4, 5, 6, 7, 12, 13, 14, 15])
    return out


def _is_c_vector(arr, kinds):
    return isinstance(arr, types.Array) and arr.ndim == 1 and arr.layout == "C" and isinstance(arr.dtype, kinds)


@intrinsic
def window_extract8(typingctx, waveforms, first_pixel, n_pixels, peaks, width, shift, gain, correction,
                    sampling_rate, charge, peak_time):
    """Charge and peak time of up to eight consecutive pixels, one pixel per lane.

    For pixel ``p = first_pixel + i`` (``i < n_pixels <= 8``) the window is
    ``[peaks[p] - shift, peaks[p] - shift + width)`` truncated to the trace.
    The sum of its samples and the mean sample index weighted by the
    positive samples (``peaks[p]`` without any) are accumulated in float64
    sample by sample in increasing order, exactly as the scalar loop does:
    each pixel's window is read as rows of 8 samples, the rows of eight
    pixels are transposed, and the accumulation runs over the samples with
    one pixel per lane (samples outside a window add +0.0, which changes
    nothing). They are stored as the scalar kernels store them: the sum is
    rounded to the dtype of ``charge`` and then multiplied by
    ``correction[gain[p]]``, the time rounded to the dtype of
    ``peak_time`` and then divided by ``sampling_rate``.

    Parameters
    ----------
    waveforms : ndarray, shape (n_pixels_total, n_samples), float32 or float64, C-contiguous
    first_pixel, n_pixels : int
    peaks : ndarray of int64, shape (n_pixels_total,)
    width, shift : int
    gain : ndarray of int, shape (n_pixels_total,)
        Selected gain channel of each pixel.
    correction : ndarray of float64, shape (n_gains,)
    sampling_rate : float
    charge, peak_time : ndarray of float32 or float64, shape (n_pixels_total,)
        Outputs; only the entries of the given pixels are written.
    """
    floats = (types.float32, types.float64)
    if not (isinstance(waveforms, types.Array) and waveforms.ndim == 2 and waveforms.layout == "C"
            and waveforms.dtype in floats and _is_c_vector(peaks, types.Integer) and peaks.dtype == types.int64
            and _is_c_vector(gain, types.Integer) and _is_c_vector(correction, types.Float)
            and correction.dtype == types.float64 and _is_c_vector(charge, types.Float)
            and _is_c_vector(peak_time, types.Float)):
        return None
    element = _F32 if waveforms.dtype == types.float32 else _F64
    row_type = ir.VectorType(element, LANES)

    def codegen(context, builder, signature, args):
        (wf_value, first_value, count_value, peaks_value, width_value, shift_value, gain_value, corr_value,
         rate_value, charge_value, time_value) = args
        wf_type, _, _, peaks_type, _, _, gain_ty, corr_type, _, charge_type, time_type = signature.args
        ary = context.make_array(wf_type)(context, builder, wf_value)
        n_samples = builder.extract_value(ary.shape, 1)
        used = _first_lanes(builder, count_value)
        zero = ir.Constant(_I64V, None)
        peak = _masked_load(builder, _item_pointer(context, builder, peaks_type, peaks_value, [first_value]), _I64V,
                            used, zero)
        start = builder.sub(peak, _splat(builder, shift_value, _I64V))
        end = builder.add(start, _splat(builder, width_value, _I64V))
        start = builder.select(builder.icmp_signed("<", start, zero), zero, start)
        samples = _splat(builder, n_samples, _I64V)
        end = builder.select(builder.icmp_signed(">", end, samples), samples, end)
        length = builder.select(used, builder.sub(end, start), zero)
        start_f = builder.sitofp(start, _F64V)
        fzero = ir.Constant(_F64V, None)
        sums = [cgutils.alloca_once_value(builder, fzero) for _ in range(3)]
        n_blocks = builder.sdiv(builder.add(width_value, _I64(LANES - 1)), _I64(LANES))
        with cgutils.for_range(builder, n_blocks) as loop:
            offset = builder.mul(loop.index, _I64(LANES))
            rows = []
            for lane in range(LANES):
                pixel = builder.add(first_value, _I64(lane))
                column = builder.add(builder.extract_element(start, _I32(lane)), offset)
                left = builder.sub(builder.extract_element(length, _I32(lane)), offset)
                pointer = _item_pointer(context, builder, wf_type, wf_value, [pixel, column])
                rows.append(_masked_load(builder, pointer, row_type, _first_lanes(builder, left),
                                         ir.Constant(row_type, None)))
            offset_f = builder.sitofp(offset, _F64)
            for j, column in enumerate(_transpose(builder, rows)):
                # samples past the window width are skipped (no pixel has them)
                inside = builder.icmp_signed("<", builder.add(offset, _I64(j)), width_value)
                with builder.if_then(inside, likely=True):
                    total, num, den = (builder.load(s) for s in sums)
                    value = builder.fpext(column, _F64V) if element == _F32 else column
                    total = builder.fadd(total, value)
                    positive = builder.select(builder.fcmp_ordered(">", value, fzero), value, fzero)
                    index = builder.fadd(start_f, _splat(builder, builder.fadd(offset_f, _F64(float(j))), _F64V))
                    num = builder.fadd(num, builder.fmul(positive, index))
                    den = builder.fadd(den, positive)
                    for s, value in zip(sums, (total, num, den)):
                        builder.store(value, s)
        total, num, den = (builder.load(s) for s in sums)
        mean = builder.select(builder.fcmp_ordered(">", den, fzero), builder.fdiv(num, den),
                              builder.sitofp(peak, _F64V))
        # the correction of each pixel's gain channel, lane by lane (a vector gather is slower)
        corr_data = context.make_array(corr_type)(context, builder, corr_value).data
        corr = fzero
        for lane in range(LANES):
            # lanes past the last pixel read the first pixel's (their results are not stored)
            pixel = builder.select(builder.extract_element(used, _I32(lane)), builder.add(first_value, _I64(lane)),
                                   first_value)
            lane_gain = builder.load(_item_pointer(context, builder, gain_ty, gain_value, [pixel]))
            lane_gain = (builder.sext if gain.dtype.signed else builder.zext)(lane_gain, _I64)
            corr = builder.insert_element(corr, builder.load(builder.gep(corr_data, [lane_gain])), _I32(lane))
        # stored as the scalar kernels store them: rounded to the output dtype, then scaled
        outputs = ((total, corr, builder.fmul, charge_type, charge_value),
                   (mean, _splat(builder, rate_value, _F64V), builder.fdiv, time_type, time_value))
        for value, operand, operation, array_type, array_value in outputs:
            narrow = array_type.dtype == types.float32
            if narrow:
                value = builder.fpext(builder.fptrunc(value, _F32V), _F64V)
            value = operation(value, operand)
            if narrow:
                value = builder.fptrunc(value, _F32V)
            _masked_store(builder, value, _item_pointer(context, builder, array_type, array_value, [first_value]),
                          used)
        return context.get_dummy_value()

    signature = types.none(waveforms, types.intp, types.intp, peaks, types.intp, types.intp, gain, correction,
                           types.float64, charge, peak_time)
    return signature, codegen
