//! Declaring fp32 denormal preservation in a compiled shader, for exact numerics.
//!
//! Exact numerics reproduce the CPU's float results bit for bit, which holds only where 32-bit
//! denormals are kept: a device that flushes them (Mesa's AMD driver does unless a shader asks)
//! fails the fma probe and then every fma runs emulated in f64. SPIR-V asks with
//! `OpExecutionMode %main DenormPreserve 32` (SPV_KHR_float_controls, core in SPIR-V 1.4 and
//! Vulkan 1.2), which GLSL cannot write, so the exact builds get it here, when they are loaded
//! on a device whose `shaderDenormPreserveFloat32` is set, instead of as a second set of
//! SPIR-V files. The patch only inserts instructions in the places the SPIR-V layout rules
//! name (capabilities, extensions, then execution modes after the entry points) and adds no ids.

/// SPIR-V's magic number, the first word of every module.
const MAGIC: u32 = 0x0723_0203;
/// First version in which SPV_KHR_float_controls is core.
const VERSION_1_4: u32 = 0x0001_0400;
/// Opcodes (SPIR-V specification, section 3.52).
const OP_EXTENSION: u32 = 10;
const OP_ENTRY_POINT: u32 = 15;
const OP_EXECUTION_MODE: u32 = 16;
const OP_CAPABILITY: u32 = 17;
/// `Capability DenormPreserve` and `ExecutionMode DenormPreserve` (SPV_KHR_float_controls).
const CAPABILITY_DENORM_PRESERVE: u32 = 4464;
const MODE_DENORM_PRESERVE: u32 = 4459;
const EXTENSION: &str = "SPV_KHR_float_controls";

/// One instruction: (first word's index, word count, opcode).
fn instructions(words: &[u32]) -> Result<Vec<(usize, usize, u32)>, String> {
    if words.len() < 5 || words[0] != MAGIC {
        return Err("not a SPIR-V module (bad magic number)".into());
    }
    let mut out = Vec::new();
    let mut at = 5;
    while at < words.len() {
        let count = (words[at] >> 16) as usize;
        if count == 0 || at + count > words.len() {
            return Err(format!("truncated or zero-length instruction at word {at}"));
        }
        out.push((at, count, words[at] & 0xffff));
        at += count;
    }
    Ok(out)
}

/// A literal string's words: UTF-8 bytes, NUL-terminated, zero-padded, little-endian.
fn string_words(s: &str) -> Vec<u32> {
    let mut bytes = s.as_bytes().to_vec();
    bytes.resize((bytes.len() / 4 + 1) * 4, 0);
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// `words` with `DenormPreserve 32` declared on every entry point (and its capability, and the
/// extension before SPIR-V 1.4). A module that already declares them comes back unchanged.
pub fn with_denorm_preserve(words: &[u32]) -> Result<Vec<u32>, String> {
    let ins = instructions(words)?;
    let op = |i: &(usize, usize, u32)| i.2;
    let last_capability = ins
        .iter()
        .rposition(|i| op(i) == OP_CAPABILITY)
        .ok_or("a module without OpCapability")?;
    let entries: Vec<u32> = ins
        .iter()
        .filter(|i| op(i) == OP_ENTRY_POINT && i.1 >= 3)
        .map(|i| words[i.0 + 2])
        .collect();
    let last_entry = ins
        .iter()
        .rposition(|i| op(i) == OP_ENTRY_POINT)
        .ok_or("a module without OpEntryPoint")?;
    let has_capability = ins[..=last_capability]
        .iter()
        .any(|i| i.1 == 2 && words[i.0 + 1] == CAPABILITY_DENORM_PRESERVE);
    let ext = string_words(EXTENSION);
    let has_extension = ins
        .iter()
        .any(|i| op(i) == OP_EXTENSION && words[i.0 + 1..i.0 + i.1] == ext[..]);
    let has_mode = |id: u32| {
        ins.iter().any(|i| {
            op(i) == OP_EXECUTION_MODE
                && i.1 == 4
                && words[i.0 + 1] == id
                && words[i.0 + 2] == MODE_DENORM_PRESERVE
        })
    };

    let mut out = Vec::with_capacity(words.len() + 16);
    out.extend_from_slice(&words[..5]);
    for (k, &(at, count, _)) in ins.iter().enumerate() {
        out.extend_from_slice(&words[at..at + count]);
        if k == last_capability {
            if !has_capability {
                out.extend_from_slice(&[(2 << 16) | OP_CAPABILITY, CAPABILITY_DENORM_PRESERVE]);
            }
            if words[1] < VERSION_1_4 && !has_extension {
                out.push(((1 + ext.len() as u32) << 16) | OP_EXTENSION);
                out.extend_from_slice(&ext);
            }
        }
        if k == last_entry {
            for &id in entries.iter().filter(|&&id| !has_mode(id)) {
                out.extend_from_slice(&[
                    (4 << 16) | OP_EXECUTION_MODE,
                    id,
                    MODE_DENORM_PRESERVE,
                    32,
                ]);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vulkano::shader::spirv::bytes_to_words;

    /// The section each opcode belongs to in SPIR-V's logical layout (2.4), for the ones the
    /// patch touches and their neighbours; 9 = anything after the execution modes.
    fn section(op: u32) -> u32 {
        match op {
            OP_CAPABILITY => 0,
            OP_EXTENSION => 1,
            11 => 2, // OpExtInstImport
            14 => 3, // OpMemoryModel
            OP_ENTRY_POINT => 4,
            OP_EXECUTION_MODE | 331 => 5, // OpExecutionMode, OpExecutionModeId
            _ => 9,
        }
    }

    #[test]
    fn every_exact_build_gets_the_mode_in_layout_order_and_nothing_else_changes() {
        let mut patched = 0;
        for name in crate::kernels::names() {
            let bytes = crate::kernels::bytes(name).expect("listed");
            let words = bytes_to_words(bytes).expect("aligned SPIR-V").into_owned();
            let out = with_denorm_preserve(&words).expect(name);
            let ins = instructions(&out).expect(name);
            // Layout order holds for the sections the patch writes into.
            let order: Vec<u32> = ins.iter().map(|i| section(i.2)).collect();
            assert!(order.windows(2).all(|w| w[0] <= w[1]), "{name}: {order:?}");
            let main = ins
                .iter()
                .find(|i| i.2 == OP_ENTRY_POINT)
                .map(|i| out[i.0 + 2])
                .expect(name);
            let modes: Vec<&[u32]> = ins
                .iter()
                .filter(|i| i.2 == OP_EXECUTION_MODE && out[i.0 + 2] == MODE_DENORM_PRESERVE)
                .map(|i| &out[i.0 + 1..i.0 + i.1])
                .collect();
            assert_eq!(modes, [&[main, MODE_DENORM_PRESERVE, 32][..]], "{name}");
            let caps = ins
                .iter()
                .filter(|i| i.2 == OP_CAPABILITY && out[i.0 + 1] == CAPABILITY_DENORM_PRESERVE)
                .count();
            assert_eq!(caps, 1, "{name}");
            // What was there is still there, in the same order: removing the inserted
            // instructions gives the input back.
            let kept: Vec<u32> = ins
                .iter()
                .filter(|i| {
                    !(i.2 == OP_CAPABILITY && out[i.0 + 1] == CAPABILITY_DENORM_PRESERVE
                        || i.2 == OP_EXECUTION_MODE && out[i.0 + 2] == MODE_DENORM_PRESERVE
                        || i.2 == OP_EXTENSION
                            && out[i.0 + 1..i.0 + i.1] == string_words(EXTENSION))
                })
                .flat_map(|i| out[i.0..i.0 + i.1].to_vec())
                .collect();
            assert_eq!(&kept[..], &words[5..], "{name}");
            // Patching again changes nothing.
            assert_eq!(with_denorm_preserve(&out).expect(name), out, "{name}");
            patched += 1;
        }
        assert!(patched > 100, "only {patched} shaders");
    }

    #[test]
    fn the_extension_is_declared_below_spirv_1_4_only() {
        let words = bytes_to_words(crate::kernels::bytes("add").expect("add"))
            .expect("aligned")
            .into_owned();
        let has_ext = |w: &[u32]| {
            instructions(w)
                .expect("valid")
                .iter()
                .any(|i| i.2 == OP_EXTENSION && w[i.0 + 1..i.0 + i.1] == string_words(EXTENSION))
        };
        assert!(
            words[1] < VERSION_1_4,
            "shaders/build.sh targets Vulkan 1.1"
        );
        assert!(has_ext(&with_denorm_preserve(&words).expect("add")));
        let mut v14 = words.clone();
        v14[1] = VERSION_1_4;
        assert!(!has_ext(&with_denorm_preserve(&v14).expect("add")));
    }

    #[test]
    fn broken_modules_are_refused_not_patched() {
        assert!(with_denorm_preserve(&[1, 2, 3]).is_err());
        assert!(with_denorm_preserve(&[MAGIC, 0x10300, 0, 10, 0, 5 << 16 | 17]).is_err());
        assert_eq!(string_words("abcd"), [u32::from_le_bytes(*b"abcd"), 0]);
    }
}
