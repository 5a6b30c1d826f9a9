"""The dashboard screen: every panel of a hosted run, and the keys that steer it.

It never talks to the engine directly: keys become host commands, and each
snapshot the app pulls is applied here in one batch (`apply`), attributes
down to the widgets, each of which skips the work when its part is unchanged.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, TabbedContent, TabPane

from evtool.core.textsafe import visible
from evtool.sim.host import EngineHost, Faster, InjectFault, Redrive, Seek, Slower, Step, TogglePause
from evtool.sim.snapshot import Snapshot, empty_snapshot
from evtool.tui.flow import FlowTracker, find_flow
from evtool.tui.quiz import CHOICE_KEYS, Quiz
from evtool.tui.sagas import STATE_STYLE as SAGA_STATE
from evtool.tui.sagas import SagaTracker, find_tracker
from evtool.tui.screens.end import EndModal, Variation
from evtool.tui.screens.faults import FaultMenu, fault_choices
from evtool.tui.screens.filter import FilterModal
from evtool.tui.screens.help import HelpModal
from evtool.tui.screens.inspector import InspectorModal
from evtool.tui.screens.sequence import SequenceModal
from evtool.tui.widgets.channel_table import ChannelTable
from evtool.tui.widgets.check_table import CheckTable
from evtool.tui.widgets.consumer_table import ConsumerTable
from evtool.tui.widgets.dead_letter_table import DeadLetterTable
from evtool.tui.widgets.event_log import EventFilter, EventLog
from evtool.tui.widgets.lanes import Lanes
from evtool.tui.widgets.lesson_pane import LessonPane
from evtool.tui.widgets.quiz_bar import QuizBar
from evtool.tui.widgets.retry_table import RetryTable
from evtool.tui.widgets.run_status import RunStatus, Scrubber
from evtool.tui.widgets.saga_table import SagaTable
from evtool.tui.widgets.saga_table import progress as saga_progress
from evtool.tui.widgets.topology import TopologyView

TABS = ("lanes", "retries", "dead", "events", "checks", "sagas")


class DashboardScreen(Screen[None]):
    """The dashboard (see the module docstring)."""

    BINDINGS = [
        Binding("space", "toggle_pause", "Pause", id="toggle-pause", tooltip="Pause or resume virtual time"),
        Binding("n", "step", "Step", id="step", tooltip="Pause and process one event"),
        Binding("plus,equals_sign", "faster", "Faster", id="faster", key_display="+", show=False),
        Binding("minus,underscore", "slower", "Slower", id="slower", key_display="-", show=False),
        Binding("f", "faults", "Faults", id="fault-menu", tooltip="Crash, slow, poison, restart the broker"),
        Binding("r", "redrive", "Redrive", id="redrive", tooltip="Send the selected dead letter back"),
        Binding("slash", "filter", "Filter", id="filter", key_display="/", tooltip="Filter the event log",
                show=False),
        Binding("enter", "inspect", "Inspect", id="inspect", show=False,
                tooltip="The selected message's lifecycle"),
        Binding("s", "sequence", "Sequence", id="sequence", tooltip="The selected message as a sequence diagram"),
        Binding("e", "end", "What next", id="what-next", tooltip="The end of the lesson: what to try next"),
        Binding("question_mark", "help", "Help", id="help", key_display="?"),
        Binding("q", "quit", "Quit", id="quit", tooltip="Leave evtool"),
        Binding("q", "back", "Lessons", id="back-to-lessons", tooltip="Close this lesson and pick another"),
        Binding("1", "tab('lanes')", "Lanes", id="tab-lanes", show=False),
        Binding("2", "tab('retries')", "Retries", id="tab-retries", show=False),
        Binding("3", "tab('dead')", "Dead letters", id="tab-dead", show=False),
        Binding("4", "tab('events')", "Events", id="tab-events", show=False),
        Binding("5", "tab('checks')", "Checks", id="tab-checks", show=False),
        Binding("6", "tab('sagas')", "Sagas", id="tab-sagas", show=False),
        Binding("less_than_sign", "seek(-0.05)", "Back 5%", id="seek-back", key_display="<"),
        Binding("greater_than_sign", "seek(0.05)", "On 5%", id="seek-forward", key_display=">"),
        Binding("comma", "seek_seconds(-1)", "Back 1s", id="seek-back-1s", show=False, key_display=","),
        Binding("full_stop", "seek_seconds(1)", "On 1s", id="seek-forward-1s", show=False, key_display="."),
        Binding("home", "seek_to(0)", "Start", id="seek-start", show=False),
        *[Binding(k, f"answer({i})", f"Answer the question with choice {k}", show=False, id=f"answer-{k}")
          for i, k in enumerate(CHOICE_KEYS)],
    ]

    def __init__(self, host: EngineHost, *, from_picker: bool = False, title: str | None = None,
                 variation: Variation | None = None) -> None:
        super().__init__()
        self.host = host
        self.variation = variation
        """The try-next variation this run is (None: the lesson as written)."""
        self._end_shown = False
        self.from_picker = from_picker
        """Opened from the lesson picker: q goes back to it instead of quitting."""
        self.replay_title = title
        self.snap: Snapshot = empty_snapshot()
        self.selected_msg: str | None = None
        self._focus_step: int | None = None
        self._notes: tuple[str, ...] = ()
        self.quiz = Quiz(lesson=host.scenario.id)
        tracker = find_tracker(host.engine.listeners)
        if tracker is None:  # a host made without one: follow the sagas from now on
            tracker = SagaTracker(host.scenario)
            host.engine.listeners.append(tracker)
        self.sagas = tracker
        self._saga_version = -1
        flow = find_flow(host.engine.listeners)
        if flow is None:  # a host made without one: follow the flow from now on
            flow = FlowTracker()
            host.engine.listeners.append(flow)
        self.flow = flow
        """The lesson's questions answered in this run (the app stores the score with the run)."""
        self.ready = False
        """True once mounted with every panel (the app applies snapshots only then)."""

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        """Header and scrubber; topology, channels and consumers; the tabbed panels beside the lesson; footer."""
        host = self.host
        yield RunStatus(id="status")
        yield Scrubber(id="scrubber")
        with Vertical(id="overview"):
            with VerticalScroll(id="topology-box"):
                yield TopologyView(host.scenario, self.flow, id="topology")
            yield ChannelTable(id="channels")
            yield ConsumerTable(id="consumers")
        with Horizontal(id="bottom"):
            with TabbedContent(initial="lanes", id="tabs"):
                with TabPane("1 Lanes", id="lanes"):
                    yield Lanes(id="lanes-view")
                with TabPane("2 Retry", id="retries"):
                    yield RetryTable(id="retry-table")
                with TabPane("3 DLQ", id="dead"):
                    yield DeadLetterTable(id="dead-table")
                with TabPane("4 Log", id="events"):
                    yield EventLog(correlation=self._correlation, id="event-log")
                with TabPane("5 Checks", id="checks"):
                    yield CheckTable(id="check-table")
                if self.sagas.active:
                    with TabPane("6 Sagas", id="sagas"):
                        yield SagaTable(id="saga-table")
            yield LessonPane(self.quiz, id="lesson")
        yield QuizBar(self.quiz, id="quiz")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        """Borders and titles; the scrubber only in a replay."""
        self.query_one("#lesson").border_title = "Lesson"
        self.query_one("#scrubber").display = self.host.replay
        self.apply(self.host.snapshot())
        self.ready = True

    def _correlation(self, msg: str) -> str | None:
        life = self.host.lifecycle(msg)
        return life.correlation if life else None

    # ------------------------------------------------------------------ snapshots

    def apply(self, snap: Snapshot) -> None:
        """Show one snapshot (the app calls this inside `batch_update`)."""
        self.snap = snap
        self.query_one(RunStatus).update_from(snap)
        if self.host.replay:
            self.query_one(Scrubber).update_from(snap, snap.end_ns if snap.outcome is None else snap.now_ns)
        self.query_one(TopologyView).update_from(snap)
        self.query_one(ChannelTable).update_from(snap.channels)
        self.query_one(ConsumerTable).update_from(snap.consumers)
        self.query_one(LessonPane).variation = self.variation
        self.query_one(LessonPane).update_from(snap)
        self.query_one(QuizBar).update_from(snap)
        self.query_one(Lanes).update_from(snap.lanes)
        self.query_one(RetryTable).update_from(snap.retries, snap.now_ns)
        self.query_one(DeadLetterTable).update_from(snap.dead_letters)
        self.query_one(EventLog).update_from(snap.recent)
        self.query_one(CheckTable).update_from(snap.checks)
        if self.sagas.active and self.sagas.version != self._saga_version:
            self._saga_version = self.sagas.version
            self.query_one(SagaTable).update_from(self.sagas.instances())
        self._tab_labels(snap)
        self._lesson_focus(snap)
        self._show_notes(snap)
        if snap.outcome is not None and not self._end_shown and snap.lesson is not None and not self.host.replay:
            self._end_shown = True
            if self.app.screen is self:
                self.action_end()

    def _tab_labels(self, snap: Snapshot) -> None:
        tabs = self.query_one(TabbedContent)
        breaks = sum(lane.order_breaks for lane in snap.lanes)
        fails = sum(1 for c in snap.checks if c.status == "fail")
        passes = sum(1 for c in snap.checks if c.status == "pass")
        narrow = tabs.size.width < 64
        labels = {
            "lanes": "1 Lanes" + (f" ⚠{breaks}" if breaks else ""),
            "retries": f"2 ↻{len(snap.retries)}" if narrow else f"2 Retry ↻{len(snap.retries)}",
            "dead": f"3 ✗{snap.dead_total}" if narrow else f"3 DLQ ✗{snap.dead_total}",
            "events": "4 Log",
            "checks": (f"5 ✓{passes}" if narrow else f"5 Checks ✓{passes}") + (f" ✗{fails}" if fails else ""),
        }
        if self.sagas.active:
            counts = self.sagas.counts()
            running = counts.get("running", 0) + counts.get("compensating", 0)
            stuck = counts.get("stuck", 0)
            labels["sagas"] = ("6 Saga" if narrow else "6 Sagas") + f" ▶{running}" + (f" ✗{stuck}" if stuck else "")
        for pane, label in labels.items():
            tab = tabs.get_tab(pane)
            if str(tab.label) != label:
                tab.label = label

    def on_resize(self) -> None:
        """Tab labels get shorter in a narrow terminal; in a short one the graph stands for the tables."""
        short = self.size.height < 30
        for table in (self.query_one(ChannelTable), self.query_one(ConsumerTable)):
            table.display = not short
        room = 7 if short else 12
        self.query_one("#topology-box").styles.max_height = room
        self.query_one(TopologyView).fit(room)  # a taller graph is drawn compact: no branch below the fold
        if self.ready:
            self._tab_labels(self.snap)

    def _lesson_focus(self, snap: Snapshot) -> None:
        step = snap.lesson.step if snap.lesson else None
        if step is None or step.index == self._focus_step:
            return
        self._focus_step = step.index
        # The latest message a fired step pointed at (a later step without one keeps it).
        for index, _t in snap.lesson.fired:  # type: ignore[union-attr]
            for f in snap.lesson.steps[index].focus:  # type: ignore[union-attr]
                kind, _, name = f.partition(":")
                if kind == "message":
                    self.selected_msg = name

    def _show_notes(self, snap: Snapshot) -> None:
        if snap.notes == self._notes:
            return
        new = [n for n in snap.notes if n not in self._notes]
        self._notes = snap.notes
        for note in new:
            self.notify(visible(note), timeout=4, markup=False)

    # ------------------------------------------------------------------ selection

    def on_lanes_highlighted(self, event: Lanes.Highlighted) -> None:
        """Remember the selected message."""
        self.selected_msg = event.msg

    def on_lanes_chosen(self, event: Lanes.Chosen) -> None:
        """Inspect the chosen cell's message."""
        self._inspect(event.msg)

    def on_event_log_highlighted(self, event: EventLog.Highlighted) -> None:
        """Remember the selected message."""
        if event.msg:
            self.selected_msg = event.msg

    def on_event_log_chosen(self, event: EventLog.Chosen) -> None:
        """Inspect the chosen event's message."""
        self._inspect(event.msg)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Rows of the retry and dead-letter tables are keyed by message id."""
        table = event.data_table
        if isinstance(table, RetryTable | DeadLetterTable) and table.has_focus and event.row_key.value:
            self.selected_msg = event.row_key.value

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row: inspect its message (a check: its first piece of evidence)."""
        table = event.data_table
        key = event.row_key.value
        if isinstance(table, CheckTable):
            check = table.checks.get(key or "")
            if check is not None and check.evidence:
                self._inspect(check.evidence[0])
            elif check is not None:
                self.notify(visible(f"{check.name}: {check.observed}"), timeout=6, markup=False)
        elif isinstance(table, RetryTable | DeadLetterTable):
            self._inspect(key)
        elif isinstance(table, SagaTable) and key:
            self._saga_sequence(key)

    def _inspect(self, msg: str | None) -> None:
        if not msg:
            self.notify("select a message first (in the lanes, the event log or the dead letters)",
                        severity="warning")
            return
        self.selected_msg = msg
        self.app.push_screen(InspectorModal(msg, self.host.lifecycle))

    def _saga_sequence(self, sid: str) -> None:
        tracker = self.sagas

        def head() -> Text:
            inst = next((i for i in tracker.instances() if i.id == sid), None)
            t = Text()
            t.append(visible(sid), style="bold")
            if inst is not None:
                sym, style = SAGA_STATE.get(inst.state, ("?", ""))
                t.append(f"  {visible(inst.saga)}  ", style="cyan")
                t.append(f"{sym} {inst.state}", style=style)
                t.append("  steps ", style="dim")
                t.append_text(saga_progress(inst))
            return t

        self.app.push_screen(SequenceModal(sid, self.host.lifecycle, what="saga", head=head,
                                           events=lambda: tracker.events(sid)))

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Seeking only in a replay; faults and redrive only in a live run; the sagas tab only with sagas."""
        if action == "tab" and parameters and parameters[0] == "sagas":
            return self.sagas.active
        if action in ("seek", "seek_seconds", "seek_to"):
            return self.host.replay
        if action in ("faults", "redrive"):
            return not self.host.replay
        if action == "end":
            return self.snap.outcome is not None
        if action == "quit":
            return not self.from_picker
        if action == "back":
            return self.from_picker
        if action == "answer":
            pending = self.quiz.pending(self.snap.lesson)
            if pending is None:
                return False
            index = int(parameters[0]) if parameters else 0  # type: ignore[call-overload]
            return index < len(pending[1].choices) or (not pending[1].choices and index == 0)
        return True

    def action_toggle_pause(self) -> None:
        """Pause or resume virtual time."""
        self.host.submit(TogglePause())

    def action_step(self) -> None:
        """Pause and process one kernel event."""
        self.host.submit(Step(1))

    def action_faster(self) -> None:
        """The next speed up (up to as fast as possible)."""
        self.host.submit(Faster())

    def action_slower(self) -> None:
        """The next speed down (down to 0.1x)."""
        self.host.submit(Slower())

    def action_faults(self) -> None:
        """Open the fault menu."""
        choices = fault_choices(self.host.scenario, self.snap)

        def chosen(cmd: InjectFault | None) -> None:
            if cmd is not None:
                self.host.submit(cmd)

        self.app.push_screen(FaultMenu(choices), chosen)

    def action_redrive(self) -> None:
        """Redrive the selected dead letter (the first press shows the dead-letter panel)."""
        tabs = self.query_one(TabbedContent)
        table = self.query_one(DeadLetterTable)
        if tabs.active != "dead":
            tabs.active = "dead"
            table.focus()
            if table.row_count:
                self.notify("select a dead letter and press r again to redrive it")
            else:
                self.notify("no dead letters to redrive", severity="warning")
            return
        letter = table.selected()
        if letter is None:
            self.notify("no dead letter selected", severity="warning")
            return
        self.host.submit(Redrive(letter.channel, letter.msg))
        self.notify(visible(f"redriving {letter.msg} from {letter.channel} to {letter.source}"), markup=False)

    def action_filter(self) -> None:
        """Ask for an event-log filter and show the log."""
        log = self.query_one(EventLog)

        def chosen(flt: EventFilter | None) -> None:
            if flt is not None:
                log.set_filter(flt)
                self.query_one(TabbedContent).active = "events"

        self.app.push_screen(FilterModal(log.filter.text), chosen)

    def action_inspect(self) -> None:
        """Open the inspector on the selected message."""
        self._inspect(self.selected_msg)

    def action_sequence(self) -> None:
        """The sequence diagram of the selected message (or, in the sagas tab, of the selected saga)."""
        if self.sagas.active and self.query_one(TabbedContent).active == "sagas":
            inst = self.query_one(SagaTable).selected()
            if inst is not None:
                self._saga_sequence(inst.id)
                return
        if not self.selected_msg:
            self.notify("select a message first (in the lanes, the event log or the dead letters)",
                        severity="warning")
            return
        self.app.push_screen(SequenceModal(self.selected_msg, self.host.lifecycle,
                                           conversation=self.sagas.conversation))

    def action_answer(self, index: int) -> None:
        """Answer the open question with choice `index` (a question without choices: show its answer)."""
        pending = self.quiz.pending(self.snap.lesson)
        if pending is None:
            return
        step, q = pending
        if q.choices:
            self.quiz.choose(step, q, index)
        else:
            self.quiz.reveal(step, q)
        self.query_one(QuizBar).update_from(self.snap)
        self.query_one(LessonPane).update_from(self.snap)

    def help_groups(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """The keys that work now (live or replay, question or not, run over or not), in words."""

        def works(action: str, *params: object) -> bool:
            return bool(self.check_action(action, params))

        replay = self.host.replay
        run = [("space", "pause or go on (virtual time stops)"), ("n", "step: pause, then one event at a time"),
               ("+ -", "faster, slower")]
        if replay:
            run += [("< >", "back / on by 5% of the run"), (", .", "back / on by one second"),
                    ("home", "back to the start")]
        look = [("1 … 5", "lanes, retries, dead letters, event log, checks")]
        if self.sagas.active:
            look.append(("6", "the sagas: state and steps of each instance"))
        look += [("enter", "inspect the selected message (its whole life)"),
                 ("s", "the selected message (or saga) as a sequence diagram"),
                 ("/", "filter the event log"), ("tab", "move to the next panel")]
        change = [] if replay else [("f", "inject a fault: crash, slow, pause, restart the broker"),
                                    ("r", "redrive the selected dead letter")]
        lesson: list[tuple[str, str]] = []
        pending = self.quiz.pending(self.snap.lesson)
        if pending is not None:
            q = pending[1]
            if q.choices:
                keys = " ".join(CHOICE_KEYS[: len(q.choices)])
                lesson.append((keys, "answer the question with that choice"))
            else:
                lesson.append(("a", "show the answer of the question"))
        if works("end"):
            lesson.append(("e", "what to try next: variations, run again, the lessons"))
        lesson.append(("q", "back to the lessons" if self.from_picker else "quit"))
        lesson.append(("?", "this help"))
        return [("Time", run), ("Look", look), ("Change the run", change), ("Lesson", lesson)]

    def action_help(self) -> None:
        """List the keys that work now."""
        self.app.push_screen(HelpModal(self.help_groups()))

    def action_tab(self, name: str) -> None:
        """Show one of the tabbed panels (the sagas panel takes the focus: up/down pick, enter opens)."""
        if name in TABS:
            self.query_one(TabbedContent).active = name
            if name == "sagas":
                self.query_one(SagaTable).focus()

    def action_seek(self, fraction: float) -> None:
        """Replay: move virtual time by a fraction of the run."""
        span = self.snap.end_ns or 1
        self.host.submit(Seek(int(fraction * span), relative=True))

    def action_seek_seconds(self, seconds: float) -> None:
        """Replay: move virtual time by some seconds."""
        self.host.submit(Seek(int(seconds * 1e9), relative=True))

    def action_seek_to(self, t_ns: int) -> None:
        """Replay: jump to a virtual time."""
        self.host.submit(Seek(int(t_ns)))

    def action_end(self) -> None:
        """The end of the lesson: what happened, what to try next, where to go."""
        self.app.push_screen(EndModal(self.snap.outcome, self.snap.checks, self.variation, self.host.scenario.lesson,
                                      replay=self.host.replay, quiz=self.quiz.score(self.snap.lesson)))

    def action_quit(self) -> None:
        """Leave the dashboard."""
        self.app.exit()

    def action_back(self) -> None:
        """Close this lesson and go back to the lesson picker."""
        self.app.back_to_picker()  # type: ignore[attr-defined]
