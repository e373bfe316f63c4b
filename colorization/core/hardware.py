"""What this CPU offers, read at run time: which precisions run in hardware."""

# Instruction sets that decide which kernels oneDNN (TensorFlow) and XNNPACK (LiteRT) use.
ISA_FLAGS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "amx_bf16",
    "amx_int8",
)


def cpu_flags(cpuinfo="/proc/cpuinfo"):
    """The CPU's feature flags as the kernel reports them; empty where they cannot be read
    (not Linux, or no x86 flags line)."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def instruction_sets(cpuinfo="/proc/cpuinfo"):
    """The ISA_FLAGS this CPU has, in ISA_FLAGS order."""
    flags = cpu_flags(cpuinfo)
    return [name for name in ISA_FLAGS if name in flags]


def has_bf16(cpuinfo="/proc/cpuinfo"):
    """True where bfloat16 dot products run in hardware (AVX512_BF16 or AMX); elsewhere
    TensorFlow emulates them and bfloat16 is slower than float32."""
    return bool(cpu_flags(cpuinfo) & {"avx512_bf16", "amx_bf16"})


def resolve_precision(precision, cpuinfo="/proc/cpuinfo"):
    """ "auto" -> "bfloat16" on a CPU with bf16 dot products, else "float32"; other values
    are checked and returned."""
    if precision == "auto":
        return "bfloat16" if has_bf16(cpuinfo) else "float32"
    if precision not in ("float32", "bfloat16"):
        raise ValueError(
            f"precision must be auto, float32 or bfloat16. Received: precision={precision!r}"
        )
    return precision
