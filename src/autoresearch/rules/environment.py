"""What a run sees of the tool's environment, and what of a secret may be shown.

A run gets an allowlist of the tool's environment, never the whole of it: whatever a run prints
ends up in its log, and a crash's log tail goes into the prompt sent to a remote model. So the
variables that locate things (PATH, HOME, the locale, the temporary folder), the accelerator and
threading settings, Python's own and the tool's ``AUTORESEARCH_*`` pass; everything else stays
behind unless the user names it (``--pass-env NAME``). A name that looks like a credential is
refused even when a prefix rule would let it through (``TORCH_HUB_TOKEN``, ``HF_TOKEN``): only
naming it exactly passes it.

Text that reaches a prompt or the terminal has the values of the credential-like variables
replaced by ``[masked NAME]``: the name says what was there, which helps fixing a crash without
showing the value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

# A name holding one of these (in any case) is taken for a credential.
CREDENTIAL_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH")
# Words that hold a credential word without naming one: TOKENIZERS_PARALLELISM is a threading
# setting, GIT_AUTHOR_NAME a name.
_INNOCENT_WORDS = ("TOKENIZERS", "AUTHOR")

ALLOWED_NAMES = frozenset(
    {
        # where things are, who runs, how text is shown
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LANGUAGE",
        "TERM",
        "COLORTERM",
        "NO_COLOR",
        "TZ",
        "TMPDIR",
        "TMP",
        "TEMP",
        # shared libraries: CUDA and ROCm installs are often found only through these
        "LD_LIBRARY_PATH",
        "DYLD_LIBRARY_PATH",
        # certificates for downloads behind a corporate proxy's own authority
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        # threading settings without a prefix of their own
        "TOKENIZERS_PARALLELISM",
        "VECLIB_MAXIMUM_THREADS",
        "BLIS_NUM_THREADS",
        "MPLBACKEND",
        "MPLCONFIGDIR",
        # Python environments
        "VIRTUAL_ENV",
        "CONDA_PREFIX",
        "CONDA_DEFAULT_ENV",
        "CONDA_EXE",
        "CONDA_PYTHON_EXE",
        "CONDA_SHLVL",
        # uv's places (`uv run train.py`); not its index URLs, which may carry a password
        "UV_CACHE_DIR",
        "UV_PYTHON",
        "UV_PYTHON_INSTALL_DIR",
        "UV_PROJECT_ENVIRONMENT",
        "UV_NO_SYNC",
        "UV_FROZEN",
        "UV_OFFLINE",
        "UV_LINK_MODE",
    }
)
ALLOWED_PREFIXES = (
    "LC_",
    "XDG_",
    # accelerators
    "CUDA_",
    "CUBLAS_",
    "CUDNN_",
    "NVIDIA_",
    "ROCR_",
    "HIP_",
    "HSA_",
    "ROCM_",
    "ZE_",
    "SYCL_",
    "ONEAPI_",
    "TPU_",
    "NCCL_",
    "GLOO_",
    # threading and numerics
    "OMP_",
    "MKL_",
    "OPENBLAS_",
    "NUMEXPR_",
    "NUMBA_",
    "KMP_",
    # frameworks and their caches
    "TORCH_",
    "PYTORCH_",
    "TRITON_",
    "XLA_",
    "JAX_",
    # TensorFlow's by name: all of TF_ would take in Terraform's TF_VAR_*, often secrets
    "TF_CPP_",
    "TF_XLA_",
    "TF_GPU_",
    "TF_FORCE_",
    "TF_ENABLE_",
    "TF_NUM_",
    "TF_DETERMINISTIC_OPS",
    "TF_USE_LEGACY_KERAS",
    "HF_",
    "TRANSFORMERS_",
    # Python itself (PYTHONPATH, PYTHONHASHSEED, ...) and pyenv's shims
    "PYTHON",
    "PYENV_",
    # the tool's own
    "AUTORESEARCH_",
)

# The names the user passed, as a run's environment carries them (space separated) to a place
# that builds the environment from its own (a Ray worker).
PASSED_NAMES_VARIABLE = "AUTORESEARCH_PASS_ENV"

# Shorter values are too common to mask (they would hide ordinary words and numbers), and so are
# these, whatever the variable holding them.
MASK_MIN_CHARS = 4
_NOT_SECRETS = frozenset({"true", "false", "none", "null", "never", "always"})


def looks_like_credential(name: str) -> bool:
    """Whether a variable's name says it holds a credential (``OPENAI_API_KEY``,
    ``github_token``, ``DB_PASSWORD``, ``AWS_SECRET_ACCESS_KEY``)."""
    upper = name.upper()
    for innocent in _INNOCENT_WORDS:
        upper = upper.replace(innocent, "_")
    return any(word in upper for word in CREDENTIAL_WORDS)


def passes(name: str, passed: frozenset[str]) -> bool:
    """Whether a variable of the tool's environment reaches a run: named by the user, or on the
    allowlist and not credential-like."""
    if name in passed:
        return True
    if looks_like_credential(name):
        return False
    return name in ALLOWED_NAMES or name.startswith(ALLOWED_PREFIXES)


def run_environment(base: Mapping[str, str], passed: Iterable[str]) -> dict[str, str]:
    """What of ``base`` (the tool's environment) a run gets; ``passed`` names the variables the
    user asked for besides (``--pass-env``), credentials included."""
    named = frozenset(passed)
    return {name: value for name, value in base.items() if passes(name, named)}


def passed_names(env: Mapping[str, str]) -> tuple[str, ...]:
    """The names a run's environment says the user passed."""
    return tuple(env.get(PASSED_NAMES_VARIABLE, "").split())


def secret_values(environ: Mapping[str, str]) -> dict[str, str]:
    """Each value worth masking, with the name of the credential-like variable holding it.

    A value over several lines (a private key, a JSON credential) is masked whole and line by
    line too, so that a tail beginning in its middle shows none of it either."""
    found: dict[str, str] = {}
    for name in sorted(environ):
        if not looks_like_credential(name):
            continue
        value = environ[name]
        for piece in (value, value.strip(), *(line.strip() for line in value.splitlines())):
            if len(piece) >= MASK_MIN_CHARS and piece.lower() not in _NOT_SECRETS:
                found.setdefault(piece, name)
    return found


def secret_masker(environ: Mapping[str, str]) -> Callable[[str], str]:
    """A function masking the secrets of ``environ`` in a text, for masking many texts."""
    found = secret_values(environ)
    if not found:
        return lambda text: text
    # The longest first, so that a secret holding another is masked whole.
    pattern = re.compile("|".join(re.escape(value) for value in sorted(found, key=len)[::-1]))
    return lambda text: pattern.sub(lambda match: f"[masked {found[match.group(0)]}]", text)


def mask_secrets(text: str, environ: Mapping[str, str]) -> str:
    """``text`` with every value of a credential-like variable of ``environ`` replaced by
    ``[masked NAME]``. Only the value as it stands is found, not an encoding of it (base64,
    URL quoting, a repr with escapes)."""
    return secret_masker(environ)(text)
