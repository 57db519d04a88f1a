"""Errors raised by the circuit stage, each naming the file or value involved."""


class CircuitError(RuntimeError):
    """Base class for circuit-stage failures."""


class OnnxParityError(CircuitError):
    """The exported ONNX graph does not reproduce the torch model's outputs."""


class SrsError(CircuitError):
    """The structured reference string is missing, too small or unreadable."""


class EzklStepError(CircuitError):
    """An EZKL step (settings, calibrate, compile, setup, witness, prove) failed."""
