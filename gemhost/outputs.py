"""The outputs capability command, run the same way for every driver: ``set_output``
(gemhost/capability_commands.yaml) switches an alarm output on or off, or pulses it on.

A driver only says how to switch one output on its wire; the argument rules, the pulse (on,
then off later through :class:`~gemhost.timedstops.TimedStops`, so a long pulse neither holds a
command slot nor outlives the command timeout) and the reply are here once, so every driver
answers ``set_output`` alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from gemhost import capability_replies
from gemhost.errors import InvalidArgs
from gemhost.timedstops import TimedStops

Switch = Callable[[int, bool], Awaitable[Any]]
"""``switch(output, on)``: the driver's request that sets one output on (True) or off."""


async def set_output(args: dict[str, Any], switch: Switch, stops: TimedStops, key: str,
                     **target: Any) -> dict[str, Any]:
    """Run ``set_output`` with validated ``args`` (``output``, and ``state`` or ``pulse``).

    ``key`` names the output among the driver's pending stops (a level set now cancels a
    pulse's pending off); ``target`` is the driver's own reply keys (e.g. ``address=...``).
    Raises InvalidArgs unless exactly one of ``state`` and ``pulse`` is given.
    """
    output, state, pulse = int(args["output"]), args.get("state"), args.get("pulse")
    if (state is None) == (pulse is None):
        raise InvalidArgs("give exactly one of state (on/off) or pulse (milliseconds)")
    stops.cancel(key)
    if pulse is None:
        await switch(output, state == "on")
        return capability_replies.reply("set_output", **target, output=output, state=state)
    await switch(output, True)
    stops.schedule(key, int(pulse), lambda: switch(output, False), f"output {output}: end of {pulse} ms pulse")
    return capability_replies.reply("set_output", **target, output=output, pulse=int(pulse), state="on")
