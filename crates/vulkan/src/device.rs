//! Finding Vulkan devices and opening one for compute. Listing is separate from opening so
//! `pine-run --list-devices` can describe every device, including ones pine cannot use.

use std::sync::Arc;

use vulkano::command_buffer::allocator::StandardCommandBufferAllocator;
use vulkano::descriptor_set::allocator::StandardDescriptorSetAllocator;
use vulkano::device::physical::{PhysicalDevice, PhysicalDeviceType, SubgroupFeatures};
use vulkano::device::{
    Device, DeviceCreateInfo, DeviceExtensions, DeviceFeatures, Queue, QueueCreateInfo, QueueFlags,
};
use vulkano::instance::{Instance, InstanceCreateFlags, InstanceCreateInfo, InstanceExtensions};
use vulkano::memory::allocator::StandardMemoryAllocator;
use vulkano::memory::MemoryHeapFlags;
use vulkano::shader::ShaderStages;
use vulkano::{LoadingError, Validated, Version, VulkanError, VulkanLibrary};

use crate::error::VkError;

/// What `--list-devices` shows about one device, and what device selection looks at.
#[derive(Clone, Debug)]
pub struct DeviceInfo {
    /// Index for `--device N`.
    pub index: usize,
    /// Device name as the driver reports it.
    pub name: String,
    /// Discrete, integrated, virtual, CPU (lavapipe) or other.
    pub kind: DeviceKind,
    /// Driver name and version string.
    pub driver: String,
    /// Vulkan version the device supports.
    pub api_version: String,
    /// Memory heaps: (bytes, device-local).
    pub heaps: Vec<(u64, bool)>,
    /// Subgroup (warp/wave) size, when reported.
    pub subgroup_size: Option<u32>,
    /// Subgroup shuffles in compute shaders with subgroups of at least eight invocations: the
    /// integer matmuls then sum each row's eight lanes without shared memory (`reduce8.glsl`,
    /// and the block sums of Q4_0 in `mul_mat_q8.comp`).
    pub subgroup_shuffle: bool,
    /// f16 arithmetic in shaders.
    pub fp16: bool,
    /// int8 arithmetic in shaders.
    pub int8: bool,
    /// Integer dot-product instructions.
    pub int_dot: bool,
    /// `VK_KHR_cooperative_matrix`.
    pub cooperative_matrix: bool,
    /// 16-bit storage buffers, which pine's shaders need to read raw GGUF blocks.
    pub storage16: bool,
    /// f64 arithmetic in shaders, which the shaders copying the CPU's float order use for
    /// correctly rounded divisions and ggml's f64 sums.
    pub fp64: bool,
    /// Shaders can ask for fp32 denormals to be kept (`shaderDenormPreserveFloat32`, with
    /// Vulkan 1.2 or `VK_KHR_shader_float_controls`): exact numerics then declare it in every
    /// shader, so a driver that flushes them by default (Mesa's AMD driver) computes the CPU's
    /// bits with the device's fma instead of failing the fma probe.
    pub denorm_preserve32: bool,
    /// Largest storage-buffer binding in bytes.
    pub max_storage_buffer_range: u64,
    /// Nanoseconds per GPU timestamp tick, when the compute queue can write timestamps (what
    /// `pine-bench` reads device time from).
    pub timestamp_period_ns: Option<f32>,
}

/// The kind of a physical device, as far as choosing one goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    /// A discrete GPU.
    Discrete,
    /// A GPU sharing memory with the CPU.
    Integrated,
    /// A virtualised GPU.
    Virtual,
    /// A software rasteriser on the CPU (Mesa lavapipe): correct, not fast.
    Cpu,
    /// Anything else.
    Other,
}

impl DeviceKind {
    /// Whether this is real GPU hardware (what `--backend auto` picks Vulkan for).
    pub fn is_gpu(self) -> bool {
        matches!(
            self,
            DeviceKind::Discrete | DeviceKind::Integrated | DeviceKind::Virtual
        )
    }

    fn name(self) -> &'static str {
        match self {
            DeviceKind::Discrete => "discrete GPU",
            DeviceKind::Integrated => "integrated GPU",
            DeviceKind::Virtual => "virtual GPU",
            DeviceKind::Cpu => "CPU",
            DeviceKind::Other => "other",
        }
    }
}

impl std::fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An opened device with its compute queue and allocators.
pub struct Context {
    /// The logical device.
    pub device: Arc<Device>,
    /// A queue that supports compute.
    pub queue: Arc<Queue>,
    /// Memory allocator for buffers.
    pub memory: Arc<StandardMemoryAllocator>,
    /// Command buffer allocator.
    pub commands: Arc<StandardCommandBufferAllocator>,
    /// Descriptor set allocator.
    pub sets: Arc<StandardDescriptorSetAllocator>,
    /// What the device is.
    pub info: DeviceInfo,
}

/// How to install a driver, appended to the messages of a missing loader or driver.
const DRIVER_HELP: &str = "for a GPU install its vendor's Vulkan driver, for Mesa's drivers \
     or the lavapipe CPU device mesa-vulkan-drivers (Debian: apt-get install \
     mesa-vulkan-drivers); or use --backend cpu";

/// The message of a failed loader start: the loader library itself is missing, or it loaded
/// and failed.
fn loader_error(e: LoadingError) -> VkError {
    match e {
        LoadingError::LibraryLoadFailure(e) => VkError::NoLoader(format!(
            "the Vulkan loader (libvulkan.so.1) could not be loaded ({e}); install it \
             (Debian: apt-get install libvulkan1) and a driver: {DRIVER_HELP}"
        )),
        LoadingError::VulkanError(e) => VkError::NoLoader(format!(
            "the Vulkan loader failed to start ({e}); reinstall it (Debian: apt-get install \
             --reinstall libvulkan1)"
        )),
    }
}

/// The message of a failed `vkCreateInstance`: no driver at all (the loader found no ICD, or
/// none that works) is told apart from other failures; vulkano's wrapper is unwrapped so the
/// driver's own error is shown rather than "a non-validation error occurred".
fn instance_error(e: Validated<VulkanError>) -> VkError {
    match e {
        Validated::Error(VulkanError::IncompatibleDriver) => VkError::NoDriver(format!(
            "the Vulkan loader found no usable driver (ICD; check VK_DRIVER_FILES / \
             VK_ICD_FILENAMES if set): {DRIVER_HELP}"
        )),
        Validated::Error(e) => VkError::Device(format!("creating the instance: {e}")),
        Validated::ValidationError(e) => VkError::Device(format!("creating the instance: {e}")),
    }
}

fn instance() -> Result<Arc<Instance>, VkError> {
    let library = VulkanLibrary::new().map_err(loader_error)?;
    let portability = library.supported_extensions().khr_portability_enumeration;
    let info = InstanceCreateInfo {
        flags: if portability {
            InstanceCreateFlags::ENUMERATE_PORTABILITY
        } else {
            InstanceCreateFlags::empty()
        },
        enabled_extensions: InstanceExtensions {
            khr_portability_enumeration: portability,
            ..InstanceExtensions::empty()
        },
        application_name: Some("pine".into()),
        ..Default::default()
    };
    Instance::new(library, info).map_err(instance_error)
}

fn physical_devices(instance: &Arc<Instance>) -> Result<Vec<Arc<PhysicalDevice>>, VkError> {
    Ok(instance
        .enumerate_physical_devices()
        .map_err(|e| VkError::Device(format!("enumerating devices: {e}")))?
        .collect())
}

/// The first queue family with compute, which pine submits to.
fn compute_family(pd: &PhysicalDevice) -> Option<u32> {
    pd.queue_family_properties()
        .iter()
        .position(|q| q.queue_flags.intersects(QueueFlags::COMPUTE))
        .map(|f| f as u32)
}

fn describe(index: usize, pd: &PhysicalDevice) -> DeviceInfo {
    let p = pd.properties();
    let f = pd.supported_features();
    let kind = match p.device_type {
        PhysicalDeviceType::DiscreteGpu => DeviceKind::Discrete,
        PhysicalDeviceType::IntegratedGpu => DeviceKind::Integrated,
        PhysicalDeviceType::VirtualGpu => DeviceKind::Virtual,
        PhysicalDeviceType::Cpu => DeviceKind::Cpu,
        _ => DeviceKind::Other,
    };
    let driver = match (&p.driver_name, &p.driver_info) {
        (Some(n), Some(i)) => format!("{n} {i}"),
        (Some(n), None) => n.clone(),
        _ => format!("driver version {}", p.driver_version),
    };
    DeviceInfo {
        index,
        name: p.device_name.clone(),
        kind,
        driver,
        api_version: p.api_version.to_string(),
        heaps: pd
            .memory_properties()
            .memory_heaps
            .iter()
            .map(|h| (h.size, h.flags.intersects(MemoryHeapFlags::DEVICE_LOCAL)))
            .collect(),
        subgroup_size: p.subgroup_size,
        subgroup_shuffle: p.subgroup_size.is_some_and(|s| s >= 8)
            && p.subgroup_supported_stages
                .is_some_and(|s| s.intersects(ShaderStages::COMPUTE))
            && p.subgroup_supported_operations
                .is_some_and(|o| o.intersects(SubgroupFeatures::SHUFFLE)),
        fp16: f.shader_float16,
        int8: f.shader_int8,
        int_dot: f.shader_integer_dot_product,
        cooperative_matrix: pd.supported_extensions().khr_cooperative_matrix,
        storage16: f.storage_buffer16_bit_access,
        fp64: f.shader_float64,
        denorm_preserve32: p.shader_denorm_preserve_float32 == Some(true)
            && (pd.api_version() >= Version::V1_2
                || pd.supported_extensions().khr_shader_float_controls),
        max_storage_buffer_range: p.max_storage_buffer_range as u64,
        timestamp_period_ns: compute_family(pd)
            .and_then(|f| pd.queue_family_properties()[f as usize].timestamp_valid_bits)
            .map(|_| p.timestamp_period),
    }
}

/// Every Vulkan device the loader finds, described.
pub fn list_devices() -> Result<Vec<DeviceInfo>, VkError> {
    let instance = instance()?;
    Ok(physical_devices(&instance)?
        .iter()
        .enumerate()
        .map(|(i, pd)| describe(i, pd))
        .collect())
}

/// Which device to open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The device with this index in [`list_devices`].
    Index(usize),
    /// The best real GPU (discrete first); fails when there is none.
    BestGpu,
    /// The best device of any kind, lavapipe included.
    Any,
}

fn rank(kind: DeviceKind) -> u8 {
    match kind {
        DeviceKind::Discrete => 0,
        DeviceKind::Integrated => 1,
        DeviceKind::Virtual => 2,
        DeviceKind::Other => 3,
        DeviceKind::Cpu => 4,
    }
}

impl Context {
    /// Opens the chosen device with the features pine's shaders need.
    pub fn open(choice: DeviceChoice) -> Result<Context, VkError> {
        let instance = instance()?;
        let devices = physical_devices(&instance)?;
        let infos: Vec<DeviceInfo> = devices
            .iter()
            .enumerate()
            .map(|(i, pd)| describe(i, pd))
            .collect();
        let usable =
            |i: &&DeviceInfo| i.storage16 && devices[i.index].api_version() >= Version::V1_1;
        let info = match choice {
            DeviceChoice::Index(n) => {
                let info = infos.get(n).ok_or_else(|| {
                    VkError::NoDevice(format!(
                        "no Vulkan device {n} ({} found; see --list-devices)",
                        infos.len()
                    ))
                })?;
                if !usable(&info) {
                    return Err(VkError::NoDevice(format!(
                        "Vulkan device {n} ({}) lacks Vulkan 1.1 or 16-bit storage buffers",
                        info.name
                    )));
                }
                info.clone()
            }
            DeviceChoice::BestGpu | DeviceChoice::Any => infos
                .iter()
                .filter(usable)
                .filter(|i| choice == DeviceChoice::Any || i.kind.is_gpu())
                .min_by_key(|i| rank(i.kind))
                .cloned()
                .ok_or_else(|| {
                    VkError::NoDevice(if infos.is_empty() {
                        "no Vulkan device found".to_string()
                    } else {
                        format!(
                            "no usable Vulkan GPU among {} device(s): {}",
                            infos.len(),
                            infos
                                .iter()
                                .map(|i| format!("{} ({})", i.name, i.kind))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    })
                })?,
        };
        let pd = devices[info.index].clone();
        let family = compute_family(&pd)
            .ok_or_else(|| VkError::NoDevice(format!("{} has no compute queue", info.name)))?;
        let (device, mut queues) = Device::new(
            pd,
            DeviceCreateInfo {
                queue_create_infos: vec![QueueCreateInfo {
                    queue_family_index: family,
                    ..Default::default()
                }],
                // Below Vulkan 1.2 the float-controls SPIR-V of exact numerics needs it.
                // Below Vulkan 1.3 the integer dot products of the tiled matmul need theirs.
                enabled_extensions: DeviceExtensions {
                    khr_shader_float_controls: info.denorm_preserve32
                        && devices[info.index].api_version() < Version::V1_2,
                    khr_shader_integer_dot_product: info.int_dot
                        && devices[info.index].api_version() < Version::V1_3,
                    ..DeviceExtensions::empty()
                },
                enabled_features: DeviceFeatures {
                    storage_buffer16_bit_access: true,
                    shader_float64: info.fp64,
                    shader_integer_dot_product: info.int_dot,
                    ..DeviceFeatures::empty()
                },
                ..Default::default()
            },
        )
        .map_err(|e| {
            VkError::Device(match e {
                Validated::Error(e) => format!("opening {}: {e}", info.name),
                Validated::ValidationError(e) => format!("opening {}: {e}", info.name),
            })
        })?;
        let queue = queues
            .next()
            .ok_or_else(|| VkError::Device(format!("{} returned no queue", info.name)))?;
        Ok(Context {
            memory: Arc::new(StandardMemoryAllocator::new_default(device.clone())),
            commands: Arc::new(StandardCommandBufferAllocator::new(
                device.clone(),
                Default::default(),
            )),
            sets: Arc::new(StandardDescriptorSetAllocator::new(
                device.clone(),
                Default::default(),
            )),
            device,
            queue,
            info,
        })
    }
}

#[cfg(test)]
mod error_tests {
    use super::*;

    #[test]
    fn missing_driver_says_what_to_install() {
        let e = instance_error(Validated::Error(VulkanError::IncompatibleDriver)).to_string();
        assert!(
            e.contains("no usable driver") && e.contains("mesa-vulkan-drivers"),
            "{e}"
        );
        assert!(!e.contains("non-validation"), "{e}");
        let e = instance_error(Validated::Error(VulkanError::OutOfHostMemory)).to_string();
        assert!(!e.contains("non-validation"), "{e}");
    }

    #[test]
    fn missing_loader_says_what_to_install() {
        let e = loader_error(LoadingError::VulkanError(VulkanError::InitializationFailed));
        assert!(e.to_string().contains("libvulkan1"), "{e}");
    }
}
