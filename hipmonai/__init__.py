"""hipmonai: MONAI bundles and tools for hip and knee osteoarthritis radiograph research."""

from __future__ import annotations

import warnings
from importlib.metadata import PackageNotFoundError, version

# Holoscan (installed with the MONAI Deploy App SDK, the ``deploy`` extra) warns when it is imported with a stack
# limit below 32 MB, and ``import monai`` imports it through the SDK's ``monai.deploy`` package: without this filter
# every command that touches MONAI would start with that warning. Only this one message from ``holoscan.core`` is
# ignored; ``hipmonai.deploy.app``'s docstring keeps the ``ulimit -s 32768`` advice for Holoscan applications.
warnings.filterwarnings("ignore", message=r"Current stack size \(.*\) is below the recommended minimum",
                        category=RuntimeWarning, module=r"holoscan\.core")

from hipmonai.errors import HipmonaiError, InputError, install_excepthook, running_monai_bundle  # noqa: E402
from hipmonai.paths import bundle_template_dir, config_dir  # noqa: E402

# a bundle config's "$import hipmonai" under `python -m monai.bundle run`: a failed run ends with the hipmonai error as
# its last line ("hipmonai: error: ..."), after the usual traceback in which MONAI wraps it several levels deep
if running_monai_bundle():
    install_excepthook()

try:
    __version__ = version("hipmonai")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["HipmonaiError", "InputError", "bundle_template_dir", "config_dir", "__version__"]
