//! Named tensors to and from safetensors bytes, with the two-phase load: everything is parsed
//! and checked against the destination (names, shapes, dtypes, byte lengths, finiteness,
//! counters, metadata) before a single element is written, so a load either fully succeeds or
//! leaves the destination as it was.
//!
//! Parsing is the `safetensors` crate's; this file only maps its tensors to destinations. No
//! allocation depends on a size declared in the file: tensor data is converted straight from
//! the input bytes into the destination slices.

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use safetensors::tensor::Metadata;
use safetensors::{Dtype, SafeTensorError, View};

use super::error::{WeightsError, WeightsErrorKind as Kind};
use crate::{Result, Scalar};

/// Where a loaded tensor goes.
pub(crate) enum Dest<'a, T> {
    /// A floating-point tensor of the network or optimizer.
    Float(&'a mut [T]),
    /// An int64 scalar counter (`num_batches_tracked`, `optimizer.step`).
    Counter(&'a mut u64),
    /// An int64 vector (the shuffler's order): loaded into the given buffer, whose length is
    /// the expected element count; values must be below the bound.
    Indices(&'a mut [usize], usize),
}

/// A tensor the destination expects: its name, its shape, where it goes.
pub(crate) struct Target<'a, T> {
    pub name: Cow<'static, str>,
    pub shape: Cow<'static, [usize]>,
    pub dest: Dest<'a, T>,
}

/// A tensor to write.
pub(crate) struct Source<'a, T> {
    pub name: Cow<'static, str>,
    pub shape: Cow<'static, [usize]>,
    pub data: SourceData<'a, T>,
}

pub(crate) enum SourceData<'a, T> {
    Float(&'a [T]),
    Counter(u64),
    Indices(&'a [usize]),
}

/// The bytes of one tensor, as the `safetensors` writer wants them.
struct Encoded {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Encoded {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// The safetensors dtype of `T`.
pub(crate) fn dtype_of<T: Scalar>() -> Dtype {
    if T::BYTES == 4 {
        Dtype::F32
    } else {
        Dtype::F64
    }
}

fn encode<T: Scalar>(source: &Source<'_, T>) -> Encoded {
    let (dtype, bytes) = match &source.data {
        SourceData::Float(data) => {
            let mut bytes = Vec::with_capacity(data.len() * T::BYTES);
            for &x in data.iter() {
                if T::BYTES == 4 {
                    // Exact: `x` is an f32.
                    bytes.extend_from_slice(&(x.to_f64() as f32).to_le_bytes());
                } else {
                    bytes.extend_from_slice(&x.to_f64().to_le_bytes());
                }
            }
            (dtype_of::<T>(), bytes)
        }
        SourceData::Counter(value) => (Dtype::I64, counter_bytes(*value).to_vec()),
        SourceData::Indices(values) => {
            let mut bytes = Vec::with_capacity(values.len() * 8);
            for &v in values.iter() {
                bytes.extend_from_slice(&counter_bytes(v as u64));
            }
            (Dtype::I64, bytes)
        }
    };
    Encoded {
        dtype,
        shape: source.shape.to_vec(),
        bytes,
    }
}

/// An int64 on disk; values past `i64::MAX` (never reached by a counter) saturate.
fn counter_bytes(value: u64) -> [u8; 8] {
    i64::try_from(value).unwrap_or(i64::MAX).to_le_bytes()
}

/// Serializes `sources` (names must be distinct) with `metadata` as the `__metadata__` map.
pub(crate) fn write<T: Scalar>(
    sources: &[Source<'_, T>],
    metadata: Vec<(String, String)>,
) -> Result<Vec<u8>> {
    let encoded: Vec<(String, Encoded)> = sources
        .iter()
        .map(|s| (s.name.to_string(), encode(s)))
        .collect();
    let metadata = if metadata.is_empty() {
        None
    } else {
        Some(metadata.into_iter().collect())
    };
    safetensors::serialize(encoded.iter().map(|(n, e)| (n.as_str(), e)), metadata).map_err(|e| {
        WeightsError::whole(
            Kind::Format,
            "tensors that serialize",
            format!("a serializer error: {e}"),
        )
        .into()
    })
}

/// How a load treats names it cannot match, and values that are not finite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    /// Like PyTorch's `load_state_dict(strict=True)` (the default): a tensor of the network
    /// missing from the file, or a tensor of the file unknown to the network, is an error. When
    /// false, both are skipped and listed in the [`LoadReport`]; tensors that are present must
    /// still match exactly.
    pub strict: bool,
    /// Accept NaN and infinite values (default false: a load that meets one fails, naming the
    /// tensor and the element).
    pub allow_non_finite: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            strict: true,
            allow_non_finite: false,
        }
    }
}

impl LoadOptions {
    /// Non-strict loading: skip and report missing and unexpected tensors.
    pub fn non_strict() -> Self {
        LoadOptions {
            strict: false,
            ..Self::default()
        }
    }
}

/// What a load did: how many tensors it loaded, and (non-strict) which it skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Tensors loaded.
    pub loaded: usize,
    /// Tensors of the network that the file lacks (left as they were).
    pub missing: Vec<String>,
    /// Tensors of the file that the network lacks (ignored).
    pub unexpected: Vec<String>,
}

/// The name a file's tensor goes by in the network: PyTorch's legacy Weight Norm spelling
/// (`X.weight_g`, `X.weight_v`, from `torch.nn.utils.weight_norm`) maps to the parametrization
/// spelling that monograd writes (`X.parametrizations.weight.original0` / `original1`, from
/// `torch.nn.utils.parametrizations.weight_norm`); every other name is itself.
pub fn canonical_name(name: &str) -> Cow<'_, str> {
    for (legacy, modern) in [
        ("weight_g", "parametrizations.weight.original0"),
        ("weight_v", "parametrizations.weight.original1"),
    ] {
        if let Some(prefix) = name.strip_suffix(legacy) {
            if prefix.is_empty() || prefix.ends_with('.') {
                return Cow::Owned(format!("{prefix}{modern}"));
            }
        }
    }
    Cow::Borrowed(name)
}

/// A parsed file whose tensors have all been checked against the targets; only
/// [`Checked::apply`] writes.
pub(crate) struct Checked<'b> {
    metadata: Metadata,
    data: &'b [u8],
    /// For each target, the file tensor's name (if present).
    matches: Vec<Option<String>>,
    report: LoadReport,
}

/// Parses `bytes` and checks every tensor against `targets` without writing anything.
pub(crate) fn check<'b, T: Scalar>(
    bytes: &'b [u8],
    targets: &[Target<'_, T>],
    options: LoadOptions,
) -> Result<Checked<'b>> {
    let keys = check_structure(bytes)?;
    let (header_len, metadata) = parse(bytes)?;
    let data = &bytes[8 + header_len..];
    reject_duplicates(&bytes[8..8 + header_len], keys, &metadata)?;

    let mut matches: Vec<Option<String>> = targets.iter().map(|_| None).collect();
    let mut unexpected = Vec::new();
    for name in metadata.offset_keys() {
        let canonical = canonical_name(&name);
        match targets.iter().position(|t| t.name == canonical) {
            Some(i) => {
                if let Some(previous) = &matches[i] {
                    return Err(WeightsError::tensor(
                        Kind::Duplicate,
                        &targets[i].name,
                        "one tensor under one of its names",
                        format!("both `{previous}` and `{name}`"),
                    )
                    .into());
                }
                matches[i] = Some(name);
            }
            None => unexpected.push(name),
        }
    }
    let missing: Vec<String> = targets
        .iter()
        .zip(&matches)
        .filter(|(_, m)| m.is_none())
        .map(|(t, _)| t.name.to_string())
        .collect();
    if options.strict {
        if let Some(first) = missing.first() {
            return Err(WeightsError::tensor(
                Kind::Missing,
                first,
                "every tensor of the network (strict loading)",
                format!("{} missing: {}", missing.len(), listing(&missing),),
            )
            .into());
        }
        if let Some(first) = unexpected.first() {
            return Err(WeightsError::tensor(
                Kind::Unexpected,
                first,
                "only tensors of the network (strict loading)",
                format!("{} unexpected: {}", unexpected.len(), listing(&unexpected),),
            )
            .into());
        }
    }
    let mut loaded = 0;
    for (target, file_name) in targets.iter().zip(&matches) {
        let Some(file_name) = file_name else { continue };
        let info = tensor_info(&metadata, file_name)?;
        check_tensor(target, file_name, info, data, options)?;
        loaded += 1;
    }
    Ok(Checked {
        metadata,
        data,
        matches,
        report: LoadReport {
            loaded,
            missing,
            unexpected,
        },
    })
}

/// At most a few names, for a message.
fn listing(names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(8).map(String::as_str).collect();
    let more = if names.len() > shown.len() {
        ", ..."
    } else {
        ""
    };
    format!("{}{more}", shown.join(", "))
}

fn parse(bytes: &[u8]) -> Result<(usize, Metadata)> {
    safetensors::SafeTensors::read_metadata(bytes).map_err(|e| format_error(bytes, e).into())
}

/// The crate's parse error, in our terms, with the tensor named when the crate does.
fn format_error(bytes: &[u8], e: SafeTensorError) -> WeightsError {
    let found = format!("{e} ({} bytes in all)", bytes.len());
    match e {
        SafeTensorError::InvalidOffset(name) => WeightsError::tensor(
            Kind::Format,
            &name,
            "data offsets that continue where the previous tensor ends",
            found,
        ),
        SafeTensorError::TensorInvalidInfo | SafeTensorError::InvalidTensorView(..) => {
            WeightsError::whole(
                Kind::ByteLength,
                "each tensor's byte range to be its element count times its dtype size",
                found,
            )
        }
        _ => WeightsError::whole(
            Kind::Format,
            "a safetensors file (8-byte little-endian header length, JSON header, data)",
            found,
        ),
    }
}

fn tensor_info<'m>(
    metadata: &'m Metadata,
    name: &str,
) -> Result<&'m safetensors::tensor::TensorInfo> {
    metadata
        .info(name)
        .ok_or_else(|| WeightsError::tensor(Kind::Format, name, "a header entry", "none").into())
}

/// The elements of a float tensor in the file, converted to `f64` (exact for every accepted
/// dtype).
fn float_elements(dtype: Dtype, bytes: &[u8]) -> impl Iterator<Item = f64> + '_ {
    let size = float_size(dtype).unwrap_or(1);
    bytes.chunks_exact(size).map(move |b| match dtype {
        Dtype::F64 => f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        Dtype::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
        Dtype::F16 => super::narrow::f16_to_f64(u16::from_le_bytes([b[0], b[1]])),
        _ => super::narrow::bf16_to_f64(u16::from_le_bytes([b[0], b[1]])),
    })
}

fn float_size(dtype: Dtype) -> Option<usize> {
    match dtype {
        Dtype::F64 => Some(8),
        Dtype::F32 => Some(4),
        Dtype::F16 | Dtype::BF16 => Some(2),
        _ => None,
    }
}

fn int64_elements(bytes: &[u8]) -> impl Iterator<Item = i64> + '_ {
    bytes
        .chunks_exact(8)
        .map(|b| i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
}

fn check_tensor<T: Scalar>(
    target: &Target<'_, T>,
    file_name: &str,
    info: &safetensors::tensor::TensorInfo,
    data: &[u8],
    options: LoadOptions,
) -> Result<()> {
    let error = |kind, expected: String, found: String| -> crate::Error {
        WeightsError::tensor(kind, file_name, expected, found).into()
    };
    let is_float = matches!(target.dest, Dest::Float(_));
    let element_size = if is_float {
        float_size(info.dtype).ok_or_else(|| {
            error(
                Kind::Dtype,
                format!("F32, F64, F16 or BF16 (converted to {})", T::NAME),
                format!("{}", info.dtype),
            )
        })?
    } else if info.dtype == Dtype::I64 {
        8
    } else {
        return Err(error(
            Kind::Dtype,
            "I64".to_string(),
            format!("{}", info.dtype),
        ));
    };
    if info.shape[..] != target.shape[..] {
        return Err(error(
            Kind::Shape,
            format!("{:?}", &target.shape[..]),
            format!("{:?}", info.shape),
        ));
    }
    let elements: usize = target.shape.iter().product();
    let (start, end) = info.data_offsets;
    let expected_bytes = elements * element_size;
    if end.checked_sub(start) != Some(expected_bytes) || end > data.len() {
        return Err(error(
            Kind::ByteLength,
            format!("{expected_bytes} bytes ({elements} x {})", info.dtype),
            format!("bytes {start}..{end} of a {}-byte data section", data.len()),
        ));
    }
    let bytes = &data[start..end];
    match &target.dest {
        Dest::Float(dest) => {
            if dest.len() != elements {
                return Err(error(
                    Kind::Shape,
                    format!("{elements} elements"),
                    format!("a destination of {}", dest.len()),
                ));
            }
            if !options.allow_non_finite {
                for (index, value) in float_elements(info.dtype, bytes).enumerate() {
                    if !T::from_f64(value).is_finite() {
                        return Err(error(
                            Kind::NonFinite,
                            format!("finite {} values", T::NAME),
                            format!("{value:?} at flat index {index}"),
                        ));
                    }
                }
            }
        }
        Dest::Counter(_) => {
            if let Some(value) = int64_elements(bytes).next() {
                if value < 0 {
                    return Err(error(
                        Kind::Counter,
                        "a count >= 0".to_string(),
                        format!("{value}"),
                    ));
                }
            }
        }
        Dest::Indices(dest, bound) => {
            if dest.len() != elements {
                return Err(error(
                    Kind::Shape,
                    format!("{} indices", dest.len()),
                    format!("{elements}"),
                ));
            }
            // A permutation of 0..bound (`dest.len() == bound`, so the bitmap is no larger).
            let mut seen = alloc::vec![false; *bound];
            for (index, value) in int64_elements(bytes).enumerate() {
                let fresh = usize::try_from(value)
                    .ok()
                    .and_then(|v| seen.get_mut(v))
                    .map(|s| !core::mem::replace(s, true));
                if fresh != Some(true) {
                    return Err(error(
                        Kind::Counter,
                        format!("a permutation of 0..{bound}"),
                        format!("{value} at index {index}"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The parsed header of `bytes` (with the same structure checks as a load).
pub(crate) fn read_header(bytes: &[u8]) -> Result<Metadata> {
    check_structure(bytes)?;
    Ok(parse(bytes)?.1)
}

/// The header's `__metadata__` entry `key`.
pub(crate) fn metadata_entry<'m>(header: &'m Metadata, key: &str) -> Option<&'m str> {
    header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(key))
        .map(String::as_str)
}

impl Checked<'_> {
    /// Writes every checked tensor into its target; cannot fail.
    pub(crate) fn apply<T: Scalar>(self, targets: &mut [Target<'_, T>]) -> LoadReport {
        for (target, file_name) in targets.iter_mut().zip(&self.matches) {
            let Some(file_name) = file_name else { continue };
            let Some(info) = self.metadata.info(file_name) else {
                continue; // excluded by `check`
            };
            let bytes = &self.data[info.data_offsets.0..info.data_offsets.1];
            match &mut target.dest {
                Dest::Float(dest) => {
                    for (d, v) in dest.iter_mut().zip(float_elements(info.dtype, bytes)) {
                        *d = T::from_f64(v);
                    }
                }
                Dest::Counter(dest) => {
                    if let Some(v) = int64_elements(bytes).next() {
                        **dest = v as u64;
                    }
                }
                Dest::Indices(dest, _) => {
                    for (d, v) in dest.iter_mut().zip(int64_elements(bytes)) {
                        *d = v as usize;
                    }
                }
            }
        }
        self.report
    }
}

/// Most elements in an array of the header (a shape has at most this many dimensions).
const MAX_ARRAY: usize = 8;
/// Most entries in a nested object (a tensor's entry has 3; a checkpoint's `__metadata__` a few
/// dozen).
const MAX_NESTED_ENTRIES: usize = 64;
/// Fewest header bytes of one top-level tensor entry (`"":{"dtype":"I8","shape":[],
/// "data_offsets":[0,0]},` takes 52), so a header cannot declare more entries than its length
/// allows.
const MIN_ENTRY_BYTES: usize = 48;

/// Walks the header with serde_json, keeping nothing, before the `safetensors` crate parses
/// it: that parser buffers every JSON value (dozens of bytes each, however short its text), so
/// a header of long arrays (`[1,1,1,...]`) or many tiny entries would make it allocate many
/// times the file's size. No valid file breaks these limits: arrays of at most [`MAX_ARRAY`]
/// elements, nesting at most 3 deep, entry counts that fit the header's length. Returns the
/// number of top-level keys (repeats included), or `None` when the header is not JSON at all
/// (the `safetensors` parser then reports it).
fn check_structure(bytes: &[u8]) -> Result<Option<usize>> {
    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

    #[derive(Clone, Copy)]
    struct Walk {
        depth: usize,
    }
    fn limit<E: serde::de::Error>(what: &'static str) -> E {
        E::custom(format_args!("monograd-limit: {what}"))
    }

    impl<'de> DeserializeSeed<'de> for Walk {
        type Value = usize;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Walk {
        type Value = usize;
        fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("a safetensors header value")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<usize, A::Error> {
            if self.depth >= 2 {
                return Err(limit("objects nested more than 2 deep"));
            }
            let mut count = 0;
            while map.next_key::<IgnoredAny>()?.is_some() {
                map.next_value_seed(Walk {
                    depth: self.depth + 1,
                })?;
                count += 1;
                if self.depth > 0 && count > MAX_NESTED_ENTRIES {
                    return Err(limit(
                        "more entries in a tensor's description than any valid file has",
                    ));
                }
            }
            Ok(count)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
            let mut count = 0;
            while seq.next_element::<IgnoredAny>()?.is_some() {
                count += 1;
                if count > MAX_ARRAY {
                    return Err(limit(
                        "an array longer than any shape (8 dimensions at most)",
                    ));
                }
            }
            Ok(count)
        }
        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<usize, E> {
            Ok(0)
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<usize, E> {
            Ok(0)
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<usize, E> {
            Ok(0)
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<usize, E> {
            Ok(0)
        }
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<usize, E> {
            Ok(0)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<usize, E> {
            Ok(0)
        }
    }
    let Some(length) = bytes.get(..8) else {
        return Ok(None);
    };
    let mut word = [0u8; 8];
    word.copy_from_slice(length);
    let Some(header) = usize::try_from(u64::from_le_bytes(word))
        .ok()
        .and_then(|n| bytes.get(8..8usize.checked_add(n)?))
    else {
        return Ok(None);
    };
    let mut de = serde_json::Deserializer::from_slice(header);
    match de.deserialize_map(Walk { depth: 0 }) {
        Ok(keys) if keys > 1 + header.len() / MIN_ENTRY_BYTES => Err(WeightsError::whole(
            Kind::Format,
            format!(
                "at most {} header entries for a {}-byte header",
                1 + header.len() / MIN_ENTRY_BYTES,
                header.len()
            ),
            keys,
        )
        .into()),
        Ok(keys) => Ok(Some(keys)),
        Err(e) => {
            let text = e.to_string();
            match text.strip_prefix("monograd-limit: ") {
                Some(_) => Err(WeightsError::whole(
                    Kind::Format,
                    "a safetensors header (shapes of at most 8 dimensions, no nesting beyond a tensor's entry)",
                    text.trim_start_matches("monograd-limit: "),
                )
                .into()),
                None => Ok(None),
            }
        }
    }
}

/// Rejects a header that names a key twice: a JSON object with a repeated key parses into a
/// map with one entry fewer, so fewer entries than the `keys` counted by [`check_structure`]
/// means a duplicate, which a second walk then names.
fn reject_duplicates(header: &[u8], keys: Option<usize>, metadata: &Metadata) -> Result<()> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

    struct FindRepeat;
    impl<'de> Visitor<'de> for FindRepeat {
        type Value = Option<String>;
        fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
            let mut seen: Vec<String> = Vec::new();
            while let Some(key) = map.next_key::<String>()? {
                map.next_value::<IgnoredAny>()?;
                if seen.contains(&key) {
                    return Ok(Some(key));
                }
                seen.push(key);
            }
            Ok(None)
        }
    }

    let distinct = metadata.offset_keys().len() + usize::from(metadata.metadata().is_some());
    if keys.is_none_or(|keys| keys == distinct) {
        return Ok(());
    }
    let mut de = serde_json::Deserializer::from_slice(header);
    let name = de.deserialize_map(FindRepeat).ok().flatten();
    Err(WeightsError::tensor(
        Kind::Duplicate,
        name.as_deref().unwrap_or("?"),
        "each name once in the header",
        "it more than once",
    )
    .into())
}
