"""The fault menu (`f`): crash or restart an instance, slow or pause a consumer, inject a poison message,
duplicate publishes, restart the broker. Each choice becomes an `InjectFault` command, recorded in the
trace at its virtual time so the run replays exactly."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from evtool.scenario import models as m
from evtool.sim.host import InjectFault
from evtool.sim.snapshot import Snapshot
from evtool.tui import format as fmt


def fault_choices(scenario: m.Scenario, snap: Snapshot) -> list[tuple[str, InjectFault]]:
    """The faults that make sense for this scenario now, with a label each."""
    out: list[tuple[str, InjectFault]] = []
    for c in snap.consumers:
        for i in c.instances:
            target = f"consumer:{i.name}"
            if i.state in ("crashed", "stopped", "paused"):
                out.append((f"restart {i.name} ({i.state})", InjectFault("restart", target)))
            else:
                out.append((f"crash {i.name} (restarts after 5s)",
                            InjectFault("crash", target, {"restart_after": "5s"})))
        out.append((f"crash every {c.name} instance for good", InjectFault("crash", f"consumer:{c.name}")))
        if c.instances:
            first = c.instances[0].name
            out.append((f"pause {first} for 10s", InjectFault("pause", f"consumer:{first}", {"for": "10s"})))
        out.append((f"slow {c.name} down ×5 for 15s",
                    InjectFault("slow", f"consumer:{c.name}", {"latency_factor": 5, "for": "15s"})))
    for name, ch in scenario.channels.items():
        if isinstance(ch, m.RouterChannel) or getattr(ch, "role", "normal") != "normal":
            continue
        out.append((f"inject a poison message into {name}", InjectFault("poison", f"channel:{name}")))
        out.append((f"duplicate 20% of publishes to {name} for 10s",
                    InjectFault("duplicate", f"channel:{name}",
                                {"probability": 0.2, "scope": "per_message", "for": "10s"})))
    out.append(("restart the broker (2s down)", InjectFault("broker_restart", "broker", {"downtime": "2s"})))
    return out


class FaultMenu(ModalScreen[InjectFault | None]):
    """Pick a fault; returns the command, or None when cancelled."""

    BINDINGS = [Binding("escape,f", "cancel", "Cancel", id="faults-cancel")]

    DEFAULT_CSS = """
    FaultMenu { align: center middle; }
    FaultMenu > Vertical { width: 90%; max-width: 70; height: 80%; border: round $error;
                           background: $surface; padding: 0 1; }
    FaultMenu OptionList { height: 1fr; }
    """

    def __init__(self, choices: list[tuple[str, InjectFault]]) -> None:
        super().__init__()
        self.choices = choices

    def compose(self) -> ComposeResult:
        """The list of faults."""
        with Vertical() as box:
            box.border_title = "Inject a fault (enter picks, esc cancels)"
            yield Static("It happens now, in virtual time, and is recorded for replay.", classes="dim")
            yield OptionList(*[Option(Text(fmt.shown(label)), id=str(i)) for i, (label, _) in enumerate(self.choices)],
                             id="fault-list")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Return the chosen fault."""
        self.dismiss(self.choices[int(event.option.id or 0)][1])

    def action_cancel(self) -> None:
        """Close without a fault."""
        self.dismiss(None)
