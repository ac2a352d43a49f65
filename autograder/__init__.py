"""The grading engine of the CNN exercise kit: hidden suite, Keras oracle, sandbox and CLI."""

import gc

__version__ = "0.1.0"


class GcPause:
    """No cyclic garbage collection from now until :meth:`end`.

    For a command's start, which makes objects that live as long as the process (modules, the
    reference solutions, the Keras bank, the grader): a collection then frees nothing and costs
    a cold ``grade run`` some 10-25 ms. :meth:`end` freezes what was made so far (``gc.freeze``:
    never scanned again) and turns the collector back on; it does nothing the second time, nor
    when the collector was already off (an outer pause ends it)."""

    def __init__(self) -> None:
        self.active = gc.isenabled()
        gc.disable()

    def end(self) -> None:
        if self.active:
            self.active = False
            gc.freeze()
            gc.enable()
