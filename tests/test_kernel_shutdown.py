"""The runner's kernels shut down without a SIGINT (#25 item 4).

jupyter_client interrupts a kernel before every shutdown request; a SIGINT that lands while the
kernel is still handling a message is logged by ipykernel as ``[IPKernelApp] ERROR |
KeyboardInterrupt caught in kernel.``, which ``make report`` printed during 03 although 03 succeeded.
The runner's kernel manager (lib.report.kernels.quiet_shutdown_kernel_manager) skips that interrupt;
an interrupt asked for otherwise (nbclient's, on a cell timeout) still sends SIGINT.
"""

from __future__ import annotations

import asyncio
import signal

import pytest

from lib.report import kernels, runner


def signals_sent(manager_class, interrupt_first: bool) -> list[int]:
    """The signals a real kernel, started by ``manager_class``, receives through its manager while it
    is (optionally) interrupted and then shut down the way nbclient shuts it down."""
    async def scenario() -> list[int]:
        km = manager_class(kernel_name="python3")
        sent: list[int] = []
        original = km._async_signal_kernel

        async def spy(signum):
            sent.append(signum)
            await original(signum)

        km._async_signal_kernel = spy
        await km.start_kernel()
        try:
            client = km.client()
            client.start_channels()
            await client.wait_for_ready(timeout=60)
            client.stop_channels()
            if interrupt_first:
                await km._async_interrupt_kernel()
        finally:
            await km._async_shutdown_kernel()
        return sent
    return asyncio.run(scenario())


@pytest.mark.slow
def test_shutdown_sends_no_sigint_but_a_timeout_interrupt_still_does():
    jupyter_client = pytest.importorskip("jupyter_client")
    from jupyter_client.kernelspec import KernelSpecManager

    if "python3" not in KernelSpecManager().find_kernel_specs():
        pytest.skip("no python3 kernel")
    quiet = kernels.quiet_shutdown_kernel_manager()
    assert signal.SIGINT in signals_sent(jupyter_client.AsyncKernelManager, False)  # the cause, upstream
    assert signal.SIGINT not in signals_sent(quiet, False)
    assert signals_sent(quiet, True).count(signal.SIGINT) == 1  # the interrupt asked for, not the shutdown's


def test_the_runner_executes_notebooks_with_the_quiet_kernel_manager(tmp_path, monkeypatch):
    import papermill

    seen = {}

    def fake_execute(source, executed, **kwargs):
        seen.update(kwargs)
        raise RuntimeError("stop here")

    monkeypatch.setattr(papermill, "execute_notebook", fake_execute)
    source = tmp_path / "01_x.ipynb"
    import nbformat
    nbformat.write(nbformat.v4.new_notebook(), source)
    try:
        runner.execute(source, {}, tmp_path, "python3", 60, {"profile": "smoke"})
    except Exception:  # what follows the kernel (the result, the page) is not under test here
        pass
    assert seen["kernel_manager_class"].__name__ == "QuietShutdownKernelManager"
