"""The Textual console: installs the screens, the global keys, the palette and the ``:`` command line.

Screens reach what they share through one typed ``ConsoleContext`` (app/console/context.py: the store's
location, the settings, the clock, endpoint health and live figures, read-only, demo, model names,
histories), by ``screens.base.OnConsole``. Every store read happens in a thread worker that calls an
``app.views`` function; the event loop never waits on SQLite.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from textual import events, work
from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.worker import Worker, WorkerState

from app.config.source import SettingsSource
from app.console import routes
from app.console.context import ConsoleContext
from app.console.errors import ErrorToasts, one_line
from app.console.workers import use_worker_pool
from app.text import clean
from app.timeutil import now_ms as wall_clock_ms
from screens.fleet import FleetScreen

if TYPE_CHECKING:
    from app.alerts.rules import Transition
    from app.config.settings import Settings
    from app.endpoints.poller import PollResult
    from app.models import Health
    from app.store.location import StoreLocation
    from textual.notifications import SeverityLevel
    from textual.timer import Timer

EXIT_AFTER_PAINT_ENV = "MODELDECK_EXIT_AFTER_PAINT"
"""Benchmarks: ``1`` exits once the fleet screen is first painted, ``rows`` once its rows are shown."""
PAINT_MARKER_ENV = "MODELDECK_PAINT_MARKER"
"""Benchmarks: a file that receives ``time.monotonic_ns()`` at that moment."""


def _palette_commands() -> type:
    # Imported when the palette first opens: textual.command stays off the startup path.
    from app.console.palette import ModeldeckCommands

    return ModeldeckCommands


# The console's background sync runs at most this often, whatever the endpoints' poll interval.
SYNC_MIN_INTERVAL_S = 30.0

# Keys typed in a burst wait at most this long for a screen just opened to mount and take its focus;
# after that they go wherever Textual would send them (a screen that never focuses anything).
KEY_HOLD_LIMIT_S = 1.0
KEY_HOLD_POLL_S = 0.02

# The screens opened from the fleet import pydantic's models, markdown-it, the search language ...: 0.3-0.9 s
# on the UI thread at their first opening (bench/console.py: model screen 866 ms on an empty store). They are
# imported in a thread after the first paint instead; the UI loop keeps its turns (the GIL is handed over
# every few ms), and a screen opened meanwhile waits only for what is left of its import.
# rich.traceback: Textual imports it on the UI thread the first time any worker fails (80 ms).
PREIMPORT = ("app.models", "app.search.language", "screens.model", "screens.logs", "screens.drift", "rich.traceback")


def freeze_heap() -> None:
    """Move every object alive now (modules, classes, the stylesheet: the console's lifetime) out of
    the cyclic GC's reach. Otherwise a full collection walks them all, on whichever thread allocates
    when it triggers, holding the GIL: 90-200 ms with the screens imported (bench/console.py, the model
    screen 500 ms on an empty store). Later full collections walk only what was made since; objects
    frozen here are freed by reference counting as before, only a cycle among them would wait."""
    import gc

    gc.freeze()


ALERT_TOAST_S = 8
"""How long a pass's alert toast stays. The fleet and its alert list keep saying it after; at 80 columns a
toast covers half the table, so it stays only long enough to be read."""

ALERT_TOAST_LINES = 3
"""Transitions named in one toast; the rest are counted (a pass can fire one rule for many models)."""


def alert_toast(transitions: "Sequence[Transition]") -> tuple[str, str, "SeverityLevel"]:
    """One toast (title, text, severity) for a monitor pass's alert transitions: one pass that fires five
    alerts stacks one toast, not five over the fleet."""
    def rank(t: "Transition") -> int:  # what the operator must see first: critical firing, firing, resolved
        return 0 if t.state == "firing" and t.alert.severity == "critical" else 1 if t.state == "firing" else 2

    ordered = sorted(transitions, key=rank)
    worst = rank(ordered[0])
    severity: SeverityLevel = "error" if worst == 0 else "warning" if worst == 1 else "information"
    lines = [clean(str(t)) for t in ordered[:ALERT_TOAST_LINES]]
    if len(ordered) > ALERT_TOAST_LINES:
        lines.append(f"+{len(ordered) - ALERT_TOAST_LINES} more: see the alert list under the fleet")
    title = "alert" if len(ordered) == 1 else f"{len(ordered)} alert changes"
    return title, "\n".join(lines), severity


class ModeldeckApp(App[None]):
    """modeldeck's console."""

    class HealthChanged(Message):
        """An endpoint answered its first poll, or its health changed (posted from the poller thread)."""

    class AlertsChanged(Message):
        """A monitor pass fired or resolved an alert (posted from the monitor's thread)."""

    CSS_PATH = "app.tcss"
    TITLE = "modeldeck"
    COMMANDS = {_palette_commands}
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("colon", "command_line", "Cmd", id="app.command_line"),
        Binding("ctrl+p", "command_palette", "Palette", id="app.palette", priority=True, show=False),
        Binding("escape", "back", "Back", id="app.back"),
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("d", "drift", "Drift", id="app.drift", show=False),
        # Prediction logs from anywhere: `l` a model's (the fleet's highlighted one), `/` every model's on the fleet.
        Binding("l", "logs", "Logs", id="app.logs"),
        Binding("slash", "search_logs", "Search logs", id="app.search_logs", show=False),
        # Incident time travel (--at, :at): step back and forward by the refresh interval.
        Binding("left_square_bracket", "step_time(-1)", "Earlier", id="app.earlier", show=False),
        Binding("right_square_bracket", "step_time(1)", "Later", id="app.later", show=False),
    ]

    def __init__(self, db_path: Path | None, settings: Settings | SettingsSource | None = None, *,
                 demo: bool = False, clock: Callable[[], int] | None = None, at_ms: int | None = None,
                 monitor_at_start: bool = True) -> None:
        """``settings`` already read, with the store they go with; or a ``SettingsSource``, read (and the
        store it names opened) in a worker after the first paint, so pydantic and the config file
        cost the operator nothing before the screen appears. ``db_path`` and ``settings`` exist
        from then on: ``when_ready`` runs code at that moment. ``monitor_at_start=False``: the first
        monitor pass waits one ``ui.refresh_s`` (tests that show a store exactly as it was built)."""
        # NO_COLOR, or a terminal of 16 colours or fewer: named ANSI colours are sent as they are (and
        # NO_COLOR drops every colour, not only to greys that leave red text 237 on 235). Meaning is in
        # words and attributes (widgets/severity.py); colour only repeats it.
        super().__init__(ansi_color=True if few_colours() else None)
        self.context = ConsoleContext(clock or wall_clock_ms, demo=demo)
        self.context.at_ms = at_ms  # `modeldeck --at TIME`: the store as it stood then, read-only
        self._source = settings if isinstance(settings, SettingsSource) else None
        self._monitor_at_start = monitor_at_start
        self._when_ready: list[Callable[[], None]] = []
        self.startup_error: str | None = None
        """Set when the settings or the store named by them cannot be used: the run ends (exit 2)."""
        self.crash: str | None = None
        """Set when the console crashed: one line naming the error and the file holding its traceback."""
        if not isinstance(settings, SettingsSource):
            if settings is None:
                from app.config.settings import Settings

                settings = Settings()
            assert db_path is not None, "settings given without the store they go with"
            self.context.use(_location(Path(db_path)), settings)
        self._painted: set[str] = set()
        self._health_refresh_pending = False
        self._error_toasts = ErrorToasts()
        self._held_keys: deque[events.Key] = deque()  # typed while the screen on top cannot take them yet
        self._held_since: float | None = None
        self._key_retry: Timer | None = None
        self._key_in_flight: events.Key | None = None  # a bound key on its way up to the app
        self._in_flight_since = 0.0
        self._in_flight_arrived = False  # it reached the app; released after the next refresh
        if "TEXTUAL_ANIMATIONS" not in os.environ:
            # Calm by default (slow SSH links, screen readers); TEXTUAL_ANIMATIONS=full brings it back.
            self.animation_level = "none"
        if demo:
            self.sub_title = "demo store"

    # -- what screens share (the context; these names serve tests and the console's own code) --
    @property
    def ready(self) -> bool:
        return self.context.ready

    @property
    def settings(self) -> Settings:
        return self.context.settings

    @property
    def db_path(self) -> Path:
        return self.context.store.path

    @property
    def demo(self) -> bool:
        return self.context.demo

    @demo.setter
    def demo(self, value: bool) -> None:
        self.context.demo = value

    @property
    def health(self) -> dict[str, Health]:
        return self.context.health

    @property
    def live(self) -> dict[str, PollResult]:
        return self.context.live

    @property
    def model_names(self) -> list[str]:
        return self.context.model_names

    def now_ms(self) -> int:
        return self.context.now_ms()

    def get_default_screen(self) -> FleetScreen:
        return FleetScreen()

    def _handle_exception(self, error: Exception) -> None:
        # An unhandled error ends the run: its traceback goes to a file, and the operator gets one line
        # and a non-zero exit (cli/tui.py) instead of pages of locals printed over their shell.
        if self.crash is None:
            from app.console.errors import write_crash_report

            self.crash = write_crash_report(error)
        super()._handle_exception(error)

    def _print_error_renderables(self) -> None:
        if self.crash is not None:
            self._exit_renderables.clear()
        super()._print_error_renderables()

    # -- keys typed in a burst (fast typists, SSH bunching keystrokes) -----------------------
    async def on_event(self, event: events.Event) -> None:
        """Keys are delivered in order, each once the screen on top can take it. Textual runs a key's
        binding (``:``, ``/``, ``l`` on the console, enter in a text box ...) only once the key has
        bubbled up from the focused widget to the app, and sends the keys typed after it to the focused
        widget at once, ahead of that binding. Here they wait for it, and, when it opened a screen,
        until the new screen is mounted and focused: they land there, not on the screen being left,
        and not in a text box about to be submitted. Text typed into a box is not held."""
        if isinstance(event, events.Key):
            if not event.is_forwarded:
                self._held_keys.append(event)
                await self._deliver_keys()
                return
            if event is self._key_in_flight:
                self._in_flight_arrived = True
                await super().on_event(event)  # its binding runs now: it may open or close a screen
                # What the binding set going (a submitted box closing, the screen its callback opens)
                # is done by the next refresh: the next key goes where that leaves the focus.
                self.call_after_refresh(self._in_flight_handled, event)
                return
        await super().on_event(event)

    async def _deliver_keys(self) -> None:
        while self._held_keys:
            if self._key_in_flight is not None and not self._in_flight_done():
                self._retry_keys_later()
                return
            self._key_in_flight = None
            if not self._screen_takes_keys():
                self._retry_keys_later()
                return
            event = self._held_keys.popleft()
            if self._bound(event):
                self._key_in_flight, self._in_flight_since = event, time.monotonic()
                self._in_flight_arrived = False
            await super().on_event(event)  # Textual's delivery: priority bindings, then the focused widget
            if not event.is_forwarded:
                self._key_in_flight = None  # taken by a priority binding: it will not bubble up

    async def _in_flight_handled(self, event: events.Key) -> None:
        if self._key_in_flight is event:
            self._key_in_flight = None
        await self._deliver_keys()

    def _retry_keys_later(self) -> None:
        if self._key_retry is None:
            self._key_retry = self.set_timer(KEY_HOLD_POLL_S, self._retry_keys)

    async def _retry_keys(self) -> None:
        self._key_retry = None
        await self._deliver_keys()

    def _in_flight_done(self) -> bool:
        """The key on its way up was stopped below (a widget took it: it never reaches the app), or
        has been on its way for ``KEY_HOLD_LIMIT_S`` (its widget went away)."""
        event = self._key_in_flight
        if event is None or time.monotonic() - self._in_flight_since >= KEY_HOLD_LIMIT_S:
            return True
        return event._stop_propagation and not self._in_flight_arrived

    def _screen_takes_keys(self) -> bool:
        """The screen on top is mounted and has focused what it focuses (or has nothing to focus);
        or the keys have waited ``KEY_HOLD_LIMIT_S`` already."""
        from textual.app import ScreenStackError

        try:
            screen = self.screen
        except ScreenStackError:  # starting or closing: Textual's own delivery
            return True
        if screen.is_mounted and (screen.focused is not None or not screen.focus_chain):
            self._held_since = None
            return True
        now = time.monotonic()
        if self._held_since is None:
            self._held_since = now
        return now - self._held_since >= KEY_HOLD_LIMIT_S

    def _bound(self, event: events.Key) -> bool:
        """Something binds this key (the focused widget, its screen or the console), rather than an
        input taking it as text: Textual's binding chain, the focused widget up to the app."""
        if not self.screen_stack:
            return False
        return any(event.key in bindings.key_to_bindings for _, bindings in self.screen._modal_binding_chain)

    def on_load(self) -> None:
        # Before any thread worker starts: they run below the UI thread's CPU priority (app/console/workers.py).
        use_worker_pool(asyncio.get_running_loop())

    def on_mount(self) -> None:
        freeze_heap()  # Textual and the fleet's imports: before the first full collection can walk them
        self.call_after_refresh(self._preimport)
        if self.no_color:
            # NO_COLOR leaves only shades of grey: app.tcss then marks cursors with reverse video.
            self.add_class("-no-color")
        if self._source is None:
            self._start_services()
        else:
            self.call_after_refresh(self._read_settings, self._source)

    @work(thread=True, group="preimport", exit_on_error=False, description="import the screens")
    def _preimport(self) -> None:
        import importlib

        for name in PREIMPORT:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 (opening that screen imports it again and says what is wrong)
                return
        freeze_heap()  # and the screens' modules

    def when_ready(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the store's location and the settings are known (at once if they are)."""
        if self.ready:
            callback()
        else:
            self._when_ready.append(callback)

    @work(thread=True, group="settings", exit_on_error=False, description="read the settings")
    def _read_settings(self, source: SettingsSource) -> None:
        from app.config.settings import ConfigError, resolve_db_path
        from app.store.connection import StoreError, prepare
        from app.store.schema import migration_work

        try:
            settings = source.load()
            db_path = resolve_db_path(settings)
            if _location(db_path).is_server:
                # PostgreSQL: the schema is `db init`'s (its owner's); a console only checks it is there.
                _location(db_path).open().close()
            else:
                # Creates or migrates it; a bad file is one StoreError, told once.
                prepare(db_path, before_migrating=lambda old, new: self.call_from_thread(
                    self.notify, f"upgrading {clean(db_path.name)} from schema {old} to {new}, once: on a large "
                    f"store this {migration_work(old, new)} and can take a minute", title="store", markup=False,
                    timeout=30))
        except (ConfigError, StoreError, OSError) as exc:
            self.call_from_thread(self._startup_failed, str(exc) or type(exc).__name__)
            return
        self.call_from_thread(self._settings_read, settings, db_path)

    def _startup_failed(self, error: str) -> None:
        self.startup_error = error
        self.exit(return_code=2)

    def _settings_read(self, settings: Settings, db_path: Path) -> None:
        self.context.use(_location(db_path), settings)
        self._start_services()
        waiting, self._when_ready = self._when_ready, []
        for callback in waiting:
            callback()
        self.refresh_bindings()

    def _start_services(self) -> None:
        if self.settings.ui.keymap:
            self.set_keymap(self.settings.ui.keymap)
        if any(m.endpoint or m.registry for m in self.settings.models.values()):
            # After the first paint: httpx and the adapters are not needed to draw the fleet.
            self.call_after_refresh(self.poll_endpoints)
        # Drift windows and alert rules follow the store whatever screen is open (app/alerts/monitor.py):
        # a first pass right after the first paint, so an alert that a store built from logs already
        # calls for is on the fleet in seconds, not one refresh interval later; then every interval.
        if self._monitor_at_start:
            self.call_after_refresh(self.monitor)
        self.set_interval(self.settings.ui.refresh_s, self.monitor)
        sources = [c for m in self.settings.models.values() for c in (m.registry, m.endpoint) if c is not None]
        if sources and not self.settings.read_only:
            # `modeldeck sync` in the background, on the poll interval (floored: a registry is not a
            # health check), in a thread worker: no screen waits for a registry.
            every = max(SYNC_MIN_INTERVAL_S, min(c.poll_interval_s for c in sources))
            self.call_after_refresh(self.background_sync)
            self.set_interval(every, self.background_sync)

    @work(thread=True, group="sync", exit_on_error=False, description="sync registries and endpoints")
    def background_sync(self) -> None:
        from textual.worker import get_current_worker

        from app.sync.run import sync

        me = get_current_worker()
        store = self.context.store
        if not store.exists():
            return
        if any(w.group == "sync" and w is not me and w.state is WorkerState.RUNNING for w in self.workers):
            return  # the last pass is still running: passes never overlap
        with store.open() as opened:
            sync(opened, self.settings)  # each source's success or error is stored with its time

    @work(thread=True, group="monitor", exit_on_error=False, description="drift windows and alert rules")
    def monitor(self) -> None:
        from textual.worker import get_current_worker

        from app.alerts.monitor import monitor_once

        me = get_current_worker()
        store = self.context.store
        if self.context.at_ms is not None:
            return  # viewing the past writes nothing to the store (README); `:at now` runs a pass at once
        if not store.exists():
            return  # a store deleted under the console: the fleet says so; this pass must not re-create it
        if any(w.group == "monitor" and w is not me and w.state is WorkerState.RUNNING for w in self.workers):
            return  # the last pass is still running: passes never overlap
        from app.store.gc_pause import gc_paused

        # As on the drift screen (app/views/drift.py): a pass makes many short-lived acyclic rows, and a full
        # collection they trigger in this thread holds the GIL, so the UI thread waits for it.
        with gc_paused():
            transitions = monitor_once(store.path, self.settings, self.context.wall_ms()).transitions
        if transitions:
            # An alert fired or resolved: the alert lists read it and the fleet re-sorts (worst first) now,
            # not at their next periodic read.
            self.post_message(self.AlertsChanged())
        if transitions:
            title, text, severity = alert_toast(transitions)
            self.call_from_thread(self.notify, text, title=title, severity=severity, markup=False,
                                  timeout=ALERT_TOAST_S)

    def poll_endpoints(self) -> None:
        """Keep ``health`` and ``live`` (the latest poll: version, rps, errors, p95) current from every
        configured endpoint. The poller runs on an event loop of its own daemon thread
        (app/endpoints/service.py): this loop never does HTTP; screens read the dicts on their
        refresh. It stops itself within 0.2 s once the app is no longer running."""
        from app.endpoints.service import EndpointMonitor

        context = self.context

        def record(result: PollResult) -> None:
            before = context.health.get(result.model)
            context.health[result.model] = result.health
            context.live[result.model] = result
            if before is None or before.state != result.health.state:
                # A first answer or a change (up -> down) is shown now, not at the next periodic read.
                # post_message is thread-safe and never blocks this thread, even while the console closes.
                self.post_message(self.HealthChanged())

        EndpointMonitor(self.settings, context.store.path, on_result=record).start(lambda: not self.is_running)

    def on_modeldeck_app_health_changed(self, message: HealthChanged) -> None:
        # Many endpoints answer their first poll at once: one re-read of the fleet serves them all.
        if not self._health_refresh_pending:
            self._health_refresh_pending = True
            self.set_timer(0.3, self._refresh_health)

    def on_modeldeck_app_alerts_changed(self, message: AlertsChanged) -> None:
        from widgets.alert_list import AlertList

        if not self.screen_stack:  # closing
            return
        for alerts in self.screen.query(AlertList):
            alerts.reload()
        self.on_modeldeck_app_health_changed(self.HealthChanged())

    def _refresh_health(self) -> None:
        self._health_refresh_pending = False
        if self.screen_stack and isinstance(self.screen_stack[-1], FleetScreen):  # none while closing
            self.screen_stack[-1].action_refresh()

    def mark_painted(self, stage: str) -> None:
        """Benchmarks only: note that ``stage`` ('shell' or 'rows') has been painted, maybe exit."""
        wanted = os.environ.get(EXIT_AFTER_PAINT_ENV)
        if not wanted or stage in self._painted:
            return
        self._painted.add(stage)
        if (wanted == "rows") != (stage == "rows"):
            return
        marker = os.environ.get(PAINT_MARKER_ENV)
        if marker:
            Path(marker).write_text(str(time.monotonic_ns()))
        self.exit()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # One place turns a failed read into a one-line message (no traceback on screen).
        # Screens with a status line of their own say it there too; none repeats this toast.
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            text = one_line(event.worker.error)
            if self._error_toasts.due(text):  # the same message at most once a minute (app/console/errors.py)
                self.notify(clean(text), title="error", severity="error", markup=False, timeout=8)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not self.ready:
            # The first tenth of a second, while the settings are read: nothing to open yet.
            return action in ("quit", "help")
        # "Back" exists only where there is somewhere to go back to (hidden on the fleet).
        if action == "back":
            return len(self.screen_stack) > 1
        if action == "step_time":
            return self.context.at_ms is not None
        return True

    # -- navigation ---------------------------------------------------------------------
    def open_model(self, name: str) -> None:
        """The model screen of ``name`` on top of where the operator is (esc comes back here). When that
        model's screen is already on the stack, back to it instead: the stack never loops."""
        from screens.model import ModelScreen

        for depth, screen in enumerate(self.screen_stack):
            if isinstance(screen, ModelScreen) and screen.model == name:
                while len(self.screen_stack) > depth + 1:
                    self.pop_screen()
                return
        self.push_screen(ModelScreen(name))

    def trail(self, screen: object) -> list[str]:
        """The breadcrumb of the screens under ``screen``: ``["fleet", "logs"]`` (what esc goes back through)."""
        labels = []
        for below in self.screen_stack:
            if below is screen:
                break
            model = getattr(below, "model", None)
            kind = type(below).__name__.removesuffix("Screen").lower()
            labels.append(model if kind == "model" and isinstance(model, str) else kind)
        return labels

    def open_model_tab(self, name: str, tab: str) -> None:
        """The model screen of ``name`` on ``tab`` (the palette's Activity and Readiness entries)."""
        self.open_model(name)
        self.call_after_refresh(lambda: self.screen.action_tab(tab) if hasattr(self.screen, "action_tab") else None)

    def acknowledge_alerts(self, name: str) -> None:
        """Acknowledge ``name``'s firing alerts, as A does on the fleet (from the fleet's alert list)."""
        from widgets.alert_list import AlertList

        self.action_fleet()
        def ack() -> None:
            for alerts in self.screen.query(AlertList):
                alerts.acknowledge(name)
        self.call_after_refresh(ack)

    def open_model_view(self, view_id: str, name: str) -> None:
        self.push_screen(routes.model_view(view_id).open(name))

    def open_query_view(self, view_id: str, query: str) -> None:
        self.push_screen(routes.query_view(view_id).open(query))

    def action_drift(self) -> None:
        # `d` on the fleet opens the highlighted model's drift (the model screen binds its own `d`).
        from widgets.fleet_table import FleetTable

        tables = self.screen.query(FleetTable)
        name = tables.first().current_model if tables else None
        if name and any(view.id == "drift" for view in routes.model_views()):
            self.open_model_view("drift", name)

    def action_logs(self) -> None:
        """`l`: on a screen about one model (model, drift) the logs open filtered to it; on the fleet,
        to the highlighted model (as `d` and `R` act on it)."""
        from widgets.fleet_table import FleetTable

        tables = self.screen.query(FleetTable)
        self.action_search_logs(tables.first().current_model if tables else None)

    def action_search_logs(self, highlighted: str | None = None) -> None:
        """`/`: the Logs screen with its query bar focused; every model's logs on the fleet (its
        row filter is `f`), the model's own on a screen about one model."""
        from textual.screen import ModalScreen

        if isinstance(self.screen, ModalScreen):
            return
        model = getattr(self.screen, "model", None) or highlighted
        if isinstance(model, str) and any(view.id == "logs" for view in routes.model_views()):
            self.open_model_view("logs", model)
        elif any(view.id == "search" for view in routes.query_views()):
            self.open_query_view("search", "")

    def action_fleet(self) -> None:
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def travel_to(self, at_ms: int | None) -> None:
        """Show the store as it stood at ``at_ms`` (None: now, live again): every screen reads again."""
        self.context.at_ms = at_ms
        self.sub_title = "" if at_ms is None else "viewing the past · read-only"
        self.refresh_bindings()
        from widgets.alert_list import AlertList

        for screen in self.screen_stack:
            if hasattr(screen, "_show_title"):
                screen._show_title()
            for alerts in screen.query(AlertList):
                alerts.reload()  # the alerts of the time now shown, not of the last periodic read
        self.action_refresh()
        if at_ms is None:
            self.notify("live again: the store as it is now", title="time", markup=False, timeout=4)
            self.monitor()  # the drift windows and alert rules skipped while viewing the past

    def action_step_time(self, direction: int) -> None:
        """``[`` / ``]``: one refresh interval earlier or later, never past now."""
        if self.context.at_ms is None:
            return
        step = int(self.settings.ui.refresh_s * 1000)
        target = self.context.at_ms + direction * step
        self.travel_to(min(target, self.context.wall_ms()))

    def action_back(self) -> None:
        if len(self.screen_stack) > 1:
            self.pop_screen()

    def action_refresh(self) -> None:
        refresh = getattr(self.screen, "action_refresh", None)
        if refresh is not None:
            refresh()

    def action_help(self) -> None:
        from screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.screen, COMMAND_LINE_HELP))

    def action_command_line(self) -> None:
        from screens.command_line import CommandLine

        self.push_screen(CommandLine(self.context.command_history, *command_line_hint()), self._command_entered)

    def _command_entered(self, text: str | None) -> None:
        if not text:
            return
        self.context.command_history.append(text)
        error = self.run_command_line(text)
        if error:
            self.notify(clean(error), title=":" + clean(text), severity="error", markup=False)

    def action_switch_store(self) -> None:
        from screens.prompt import Prompt

        self.push_screen(Prompt("Switch store", "Path of the store file", value=str(self.db_path)),
                         self._switch_store)

    def _switch_store(self, text: str | None) -> None:
        if text:
            self._check_store(Path(text).expanduser())

    @work(thread=True, exclusive=True, group="switch-store", exit_on_error=False, description="open another store")
    def _check_store(self, path: Path) -> None:
        from app.store import StoreError

        # Errors are told here, not by the generic worker-error toast: that one is rate-limited, and an
        # operator who retries a path must hear about it every time.
        try:
            # Switching never creates a store (StoreLocation.open refuses in the store layer, so no later
            # check-then-open race): a typo must not leave an empty file behind. Migrates an older
            # store; a missing or bad file raises a one-line StoreError.
            with _location(path).open():
                pass
        except (StoreError, OSError) as exc:
            self.call_from_thread(self.notify, clean(str(exc).splitlines()[0]), title="store", severity="error",
                                  markup=False)
            return
        self.call_from_thread(self.store_switched, path)

    def store_switched(self, path: Path) -> None:
        if self.context.demo:  # the header must not keep saying "demo" over another store
            self.sub_title = ""
        self.context.switch_store(_location(path))
        self.action_fleet()
        self.action_refresh()
        self.notify(clean(str(path)), title="store", markup=False)

    # -- the ``:`` command line ---------------------------------------------------------
    def run_command_line(self, text: str) -> str | None:
        """Run one ``:`` command; returns an error message, or None when it worked."""
        raw_verb, _, rest = text.strip().lstrip(":").strip().partition(" ")
        for query_view in routes.query_views():
            if raw_verb.lower() == query_view.id:
                # The query goes through as typed: its quotes and apostrophes belong to the query language.
                self.open_query_view(query_view.id, rest.strip())
                return None
        try:
            words = shlex.split(text.strip().lstrip(":"))
        except ValueError as exc:
            return f"cannot read the command: {exc}"
        if not words:
            return None
        verb, args = words[0].lower(), words[1:]
        if verb in ("q", "quit", "q!"):
            self.exit()
            return None
        if verb in ("help", "h", "?"):
            self.action_help()
            return None
        if verb in ("fleet", "home"):
            self.action_fleet()
            return None
        if verb == "refresh":
            self.action_refresh()
            return None
        if verb in ("model", "m", "open"):
            if len(args) != 1:
                return "usage: :model NAME"
            name, error = self.resolve_model(args[0])
            if error:
                return error
            assert name is not None  # no error: resolved
            self.open_model(name)
            return None
        if verb == "at":
            if len(args) != 1:
                return "usage: :at TIME (2026-11-29T03:40Z, 2h for two hours ago, now to go live)"
            if args[0].lower() in ("now", "live", "off"):
                self.travel_to(None)
                return None
            from app.timeutil import parse_time_ref

            try:
                at = parse_time_ref(args[0], now=self.context.wall_ms())
            except ValueError as exc:
                return f"cannot read the time {args[0]!r}: {exc}"
            if at > self.context.wall_ms():
                return "that time is in the future: the store holds only the past"
            self.travel_to(at)
            return None
        if verb == "store":
            if len(args) != 1:
                return "usage: :store PATH"
            self._check_store(Path(args[0]).expanduser())
            return None
        for view in routes.model_views():
            if verb == view.id:
                if len(args) != 1:
                    return f"usage: :{view.id} MODEL"
                name, error = self.resolve_model(args[0])
                if error:
                    return error
                assert name is not None  # no error: resolved
                self.open_model_view(view.id, name)
                return None
        return f"unknown command: {verb} (:help lists the commands)"

    def resolve_model(self, text: str) -> tuple[str | None, str | None]:
        """THE resolution every command uses (app.catalogue.resolve_name): exact, else a unique prefix (said
        in a notice: ``fraud -> fraud-scorer``), else (None, the one-line error naming the closest names)."""
        from app.catalogue import UnknownName, resolve_name

        if not self.model_names:
            # Before the first fleet read, trust the name: the model screen says if it is unknown.
            return text, None
        try:
            resolved = resolve_name(text, self.model_names, kind="model")
        except UnknownName as exc:
            return None, str(exc)
        if resolved.notice:
            self.notify(resolved.notice, title="model", markup=False, timeout=4)
        return resolved.name, None


def command_line_help() -> list[tuple[str, str]]:
    rows = [
        (":model NAME", "open a model (a unique prefix is enough)"),
        (":fleet", "back to the fleet"),
        (":refresh", "read the store again"),
        (":store PATH", "switch to another store file"),
        (":at TIME", "the store as it stood then, read-only (2026-11-29T03:40Z, 2h; now: live); [ ] step"),
        (":help", "this help"),
        (":q", "quit"),
    ]
    rows += [(f":{v.id} MODEL", v.title.lower()) for v in routes.model_views()]
    rows += [(f":{v.id} QUERY", v.title.lower()) for v in routes.query_views()]
    return rows


def command_line_hint() -> tuple[str, str]:
    """Every ``:`` command for the prompt: those taking an argument (its placeholder) and the bare
    ones (its bottom border). Both fit 80 columns; the views on a model share "NAME" with ``model``."""
    on_model = "/".join(["model", *(v.id for v in routes.model_views())])
    with_argument = [f"{on_model} NAME", *(f"{v.id} QUERY" for v in routes.query_views()), "store PATH"]
    return " · ".join(with_argument), "fleet · refresh · help · q · ↑↓ history"


COMMAND_LINE_HELP: Callable[[], Iterable[tuple[str, str]]] = command_line_help


def few_colours(environ: "dict[str, str] | None" = None) -> bool:
    """NO_COLOR is set, or the terminal has 16 colours or fewer (as Rich reads TERM and COLORTERM:
    ``screen``, ``xterm``, ``linux``, ``*-16color``; ``*-256color`` and truecolor have more)."""
    env = os.environ if environ is None else environ
    if "NO_COLOR" in env:
        return True
    if env.get("COLORTERM", "").strip().lower() in ("truecolor", "24bit"):
        return False
    term = env.get("TERM", "").strip().lower()
    if not term:
        return False  # not a terminal we can read (a test, a pipe): Textual's own choice
    return not term.endswith(("256color", "truecolor", "direct"))


def _location(path: Path) -> "StoreLocation":
    # Imported when first needed: the store package is not on the path to the first paint.
    from app.store.location import StoreLocation

    return StoreLocation(path)
