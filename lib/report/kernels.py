"""The Jupyter kernels the notebooks run in: which one, that it is this environment's, and how to start it.

The project's kernel is ``contrastive-thesis``, installed by ``make setup`` into the environment.
A kernel started for one notebook talks to its client over Unix sockets in a private temporary
folder (:func:`kernel_config`) rather than over TCP ports on localhost.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

from ..paths import CHECKOUT
from .params import ParameterError

KERNEL = "contrastive-thesis"
# The kernels run on this machine only: Unix sockets rather than TCP ports on localhost, which other
# users of the machine could reach. ipykernel warns about unencrypted TCP ("Kernel is running over TCP
# without encryption"); over IPC there is nothing to warn about. (Windows has no IPC transport.)
KERNEL_TRANSPORT = "ipc" if os.name == "posix" else "tcp"

# CHECKOUT (lib.paths): the folder that holds this ``lib``


def check_kernel(kernel: str) -> None:
    """The kernel exists; the project's own kernel must run this environment's Python.

    A kernel registered for the user (not inside the environment) is shared by every checkout: a
    report started in one clone would then run another clone's code and write into its ``runs/``.
    ``make setup`` installs the kernel into the environment (``--sys-prefix``), which Jupyter
    searches first there."""
    from jupyter_client.kernelspec import KernelSpecManager

    install = (f"run `make setup`, or `{sys.executable} -m ipykernel install --sys-prefix --name {kernel} "
               f"--display-name \"Python ({kernel})\"`")
    manager = KernelSpecManager()
    installed = manager.find_kernel_specs()
    if kernel not in installed:
        raise ParameterError(f"Jupyter kernel {kernel!r} is not installed (installed: "
                             f"{', '.join(sorted(installed)) or 'none'}); {install}")
    if kernel == KERNEL:
        python = Path(os.path.abspath(manager.get_kernel_spec(kernel).argv[0]))
        prefix = Path(os.path.abspath(sys.prefix))
        if python.is_absolute() and prefix not in python.parents:
            raise ParameterError(f"Jupyter kernel {kernel!r} ({installed[kernel]}) runs {python}, which is not "
                                 f"this environment's Python ({sys.executable}): the notebooks would run other "
                                 f"code and write into another checkout's runs/; {install}")


def quiet_shutdown_kernel_manager():
    """The kernel manager the runner's notebooks run under: jupyter_client's, except that shutting a
    kernel down does not interrupt it first.

    jupyter_client (8.x) sends SIGINT to a kernel before every shutdown request, to break off a cell
    still running. The runner shuts a kernel down only after its notebook finished (or after nbclient
    already interrupted a cell that timed out), so there is nothing to break off; but a SIGINT that
    lands while the kernel is still handling a message (03's kernel, busy a moment longer after its
    last cell) is logged by ipykernel as ``[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel.``,
    an ERROR line in ``make report``'s output for a notebook that succeeded. A kernel that does not
    answer the shutdown request is still terminated, then killed (``finish_shutdown``)."""
    from jupyter_client.manager import AsyncKernelManager

    class QuietShutdownKernelManager(AsyncKernelManager):
        async def _async_interrupt_kernel(self) -> None:
            if self.shutting_down:  # set by shutdown_kernel before it interrupts
                return
            await super()._async_interrupt_kernel()

    return QuietShutdownKernelManager


@contextlib.contextmanager
def kernel_config():
    """The configuration of a kernel started for one notebook (:data:`KERNEL_TRANSPORT`): over IPC its
    sockets are files, put in a private temporary folder (jupyter_client would put them in the working
    folder, as ``kernel-ipc-1``..``5``, shared by every kernel started there), removed afterwards.

    While it is open, kernels start with this checkout first on ``PYTHONPATH``, so that a notebook
    imports the ``lib`` the runner runs: an environment made by ``make setup`` in one clone and used
    from another would otherwise give the kernels the first clone's code (its editable install), and
    with it that clone's ``runs/``."""
    from traitlets.config import Config as TraitletsConfig

    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(CHECKOUT)] + ([before] if before else []))
    folder = tempfile.mkdtemp(prefix=f"{KERNEL_FOLDER_PREFIX}{os.getpid()}-") if KERNEL_TRANSPORT == "ipc" else None
    try:
        if folder is None:
            yield TraitletsConfig({"KernelManager": {"transport": KERNEL_TRANSPORT}})
        else:
            yield TraitletsConfig({"KernelManager": {"transport": "ipc", "ip": os.path.join(folder, "kernel")}})
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


KERNEL_FOLDER_PREFIX = "thesis-kernel-"  # + the runner's pid: thesis-kernel-<pid>-<random>
RUN_LOG_PREFIX = "thesis-runs-"  # + the runner's pid (lib.report.runner.run_log)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def sweep_orphans(folder: str | Path | None = None) -> list[Path]:
    """Remove the kernel folders and run logs that a runner killed outright (SIGKILL, a power cut)
    could not remove: those in the temporary folder whose pid (in their name) no longer runs. A
    live runner's files are left alone. Returns what was removed."""
    removed = []
    for path in Path(folder or tempfile.gettempdir()).glob("thesis-*"):
        for prefix in (KERNEL_FOLDER_PREFIX, RUN_LOG_PREFIX):
            pid = path.name[len(prefix):].split("-", 1)[0] if path.name.startswith(prefix) else ""
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
                removed.append(path)
    return removed
