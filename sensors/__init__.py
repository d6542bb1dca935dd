"""The performer's voice: OSC and serial input, wrist IMUs turned into reward, keyboard reward.

Everything runs in an input process of its own (:class:`aego.sensors.hub.InputHub`); the main
process polls it for :class:`Control`, :class:`Reward` and :class:`SensorEvent` events.
See ``docs/sensors.md`` for the user's side and ``docs/architecture.md`` for the interface.
"""

from aego.sensors.events import Control, ImuSample, Reward, SensorEvent
from aego.sensors.hub import InputConfig, InputHub, config_from_args

__all__ = ["Control", "ImuSample", "InputConfig", "InputHub", "Reward", "SensorEvent", "config_from_args"]
