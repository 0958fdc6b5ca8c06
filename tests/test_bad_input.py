"""Bad input is refused at the door: for every case, the exit code, exactly one ``Error:`` line
on stderr, no traceback, and nothing written to the store.

The table holds the cases of issues 10 and 11 and those found by fuzzing each command's options;
``test_fuzzed_options_never_crash`` tries every option of every command with odd values."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sccli.cli.app import app
from sccli.store import StoreTarget, open_target
from sccli.store.base import JobQuery

DATASET = "550e8400-e29b-41d4-a716-446655440000"
CREATE = ["job", "create", "--dataset", DATASET, "--type", "data_validation"]
SYNC = ["job", "create", "--dataset", DATASET, "--type", "google_sync"]
#: A newline in user_email once added keys to google_sync's rclone configuration (issue 19).
INJECTION = "a@b.org\ntype = alias\nremote = /etc"
#: Data directories for the cases that start a service (all one directory: nothing is processed).
DIRS = {key: "@dir" for key in ("in_data_dir", "out_data_dir", "sync_data_dir", "auth_dir", "backup_dir", "log_dir")}
DEEP = '{"a":' * 5000 + "1" + "}" * 5000


@dataclass
class Case:
    args: list[str]
    code: int
    says: str
    env: dict[str, str] = field(default_factory=dict)
    settings: Any = None  # written to a file passed as --settings
    db: bool = True  # prefix --db <the test store>


CASES: dict[str, Case] = {
    # parameters (issue 11 item 8, issue 10 item 8)
    "params-json empty": Case([*CREATE, "--params-json", ""], 2, "--params-json is empty"),
    "params-json blank": Case([*CREATE, "--params-json", "  "], 2, "--params-json is empty"),
    "params-json nested thousands deep": Case([*CREATE, "--params-json", DEEP], 2, "nested too deeply"),
    "params-json nested past the store": Case([*CREATE, "--params-json", '{"a":' * 120 + "1" + "}" * 120], 2,
                                              "nested deeper than 90 levels"),
    "params-json NaN": Case([*CREATE, "--params-json", '{"a": NaN}'], 2, "not valid JSON"),
    "params-json 1e400": Case([*CREATE, "--params-json", '{"a": 1e400}'], 2, "not valid JSON"),
    "params-json 2**70": Case([*CREATE, "--params-json", '{"a": {"b": 1180591620717411303424}}'], 2,
                              "parameters.a.b: integer 1180591620717411303424 does not fit in 64 bits"),
    "params-json $ key": Case([*CREATE, "--params-json", '{"$where": 1}'], 2, "may not start with '$'"),
    "params-json dotted key": Case([*CREATE, "--params-json", '{"a.b": 1}'], 2, "may not contain '.'"),
    "params-json list": Case([*CREATE, "--params-json", "[1]"], 2, "parameters must be a JSON object"),
    "params-json missing file": Case([*CREATE, "--params-json", "@/nonexistent/p.json"], 2,
                                     "cannot read --params-json file"),
    "params-json a directory": Case([*CREATE, "--params-json", "@/"], 2, "cannot read --params-json file"),
    "param NaN": Case([*CREATE, "--param", "k=NaN"], 2, "--param k: 'NaN' is not a finite number"),
    "param nan": Case([*CREATE, "--param", "k=nan"], 2, "is not a finite number"),
    "param Infinity": Case([*CREATE, "--param", "k=Infinity"], 2, "is not a finite number"),
    "param -Infinity": Case([*CREATE, "--param", "k=-Infinity"], 2, "is not a finite number"),
    "param 1e400": Case([*CREATE, "--param", "k=1e400"], 2, "is not a finite number"),
    "param 2**70": Case([*CREATE, "--param", "k=1180591620717411303424"], 2, "parameters.k: integer"),
    "param deep": Case([*CREATE, "--param", "k=" + "[" * 5000 + "]" * 5000], 2, "nested too deeply"),
    "param no =": Case([*CREATE, "--param", "k"], 2, "--param needs key=value"),
    "param no key": Case([*CREATE, "--param", "=v"], 2, "--param needs key=value"),
    "param $ key": Case([*CREATE, "--param", "$k=1"], 2, "may not start with '$'"),
    # values that reach a tool's configuration or command line (issue 19 item 1)
    "rclone key injection through user_email": Case([*SYNC, "--param", f"user_email={INJECTION}"], 2,
                                                    "parameter 'user_email' contains a control character ('\\n')"),
    "user_email not an email": Case([*SYNC, "--param", "user_email=root"], 2,
                                    "parameter 'user_email' must be an email address"),
    "escape in data_url": Case([*SYNC, "--param", "data_url=1AbCdEfGhIjKl\x1b[2J"], 2,
                               "parameter 'data_url' contains a control character"),
    "newline in params-json": Case([*SYNC, "--params-json", '{"user_email": "a@b.org\\rscope = drive"}'], 2,
                                   "contains a control character"),
    "priority 7": Case([*CREATE, "--priority", "7"], 2, "priority must be 1-3"),
    "priority 0": Case([*CREATE, "--priority", "0"], 2, "priority must be 1-3"),
    "priority empty": Case([*CREATE, "--priority", ""], 2, "priority must be 1-3"),
    "priority word": Case([*CREATE, "--priority", "urgent"], 2, "priority must be 1-3"),
    "max-attempts 0": Case([*CREATE, "--max-attempts", "0"], 2, "max_attempts"),
    "max-attempts huge": Case([*CREATE, "--max-attempts", str(2**70)], 2, "max_attempts"),
    "timeout-minutes -1": Case([*CREATE, "--timeout-minutes", "-1"], 2, "timeout_minutes"),
    "create bad uuid": Case(["job", "create", "--dataset", "not-a-uuid", "--type", "data_validation"], 2,
                            "malformed dataset UUID"),
    "create unknown type": Case(["job", "create", "--dataset", DATASET, "--type", "bogus"], 2, "unknown job type"),
    "create empty type": Case(["job", "create", "--dataset", DATASET, "--type", ""], 2, "unknown job type"),
    # listings and filters
    "job list dataset not-a-uuid": Case(["job", "list", "--dataset", "not-a-uuid"], 2,
                                        "--dataset: malformed dataset UUID"),
    "job list status bogus": Case(["job", "list", "--status", "bogus"], 2, "'bogus' is not one of"),
    "job list type bogus": Case(["job", "list", "--type", "bogus"], 2, "unknown job type"),
    "job list limit 0": Case(["job", "list", "--limit", "0"], 2, "--limit"),
    "dataset list status bogus": Case(["dataset", "list", "--status", "bogus"], 2, "'bogus' is not one of"),
    "dataset list limit huge": Case(["dataset", "list", "--limit", str(2**70)], 2, "--limit"),
    "dataset show not-a-uuid": Case(["dataset", "show", "nope"], 2, "malformed dataset UUID"),
    "dataset add status bogus": Case(["dataset", "add", "--status", "bogus"], 2, "unknown dataset status 'bogus'"),
    "dataset add uuid empty": Case(["dataset", "add", "--uuid", ""], 2, "malformed dataset UUID"),
    "dataset add uuid bad": Case(["dataset", "add", "--uuid", "1234"], 2, "malformed dataset UUID"),
    "dataset add extra-json sets status": Case(["dataset", "add", "--extra-json", '{"status": "done"}'], 2,
                                               "--extra-json may not set status"),
    "dataset add extra-json NaN": Case(["dataset", "add", "--extra-json", '{"a": NaN}'], 2,
                                       "--extra-json is not valid JSON"),
    "dataset add extra-json list": Case(["dataset", "add", "--extra-json", "[]"], 2,
                                        "--extra-json must be a JSON object"),
    "dataset add extra-json $ key": Case(["dataset", "add", "--extra-json", '{"$set": 1}'], 2,
                                         "may not start with '$'"),
    # monitor windows
    "failed hours 1e12": Case(["monitor", "failed", "--hours", "1e12"], 2, "--hours"),
    "failed hours nan": Case(["monitor", "failed", "--hours", "nan"], 2, "is not a finite number"),
    "failed hours 0": Case(["monitor", "failed", "--hours", "0"], 2, "--hours"),
    "failed type bogus": Case(["monitor", "failed", "--type", "bogus"], 2, "unknown job type"),
    "failed signature empty": Case(["monitor", "failed", "--signature", ""], 2, "--signature is empty"),
    "metrics hours 1e12": Case(["monitor", "metrics", "--hours", "1000000000000"], 2, "--hours"),
    "report days absurd": Case(["monitor", "report", "--days", "100000000"], 2, "--days"),
    "cleanup days absurd": Case(["monitor", "cleanup", "--dry-run", "--days", "999999999"], 2, "--days"),
    "cleanup days negative": Case(["monitor", "cleanup", "--days", "-5"], 2, "--days"),
    "overview interval inf": Case(["monitor", "overview", "--watch", "--interval", "inf"], 2, "--interval"),
    "service stop wait nan": Case(["service", "stop", "--wait", "nan"], 2, "is not a finite number"),
    "service stop wait negative": Case(["service", "stop", "--wait", "-1"], 2, "--wait"),
    "migrate grace nan": Case(["migrate", "run", "--dry-run", "--grace-seconds", "nan"], 2, "is not a finite number"),
    "migrate list limit huge": Case(["migrate", "list", "--limit", "99999999999999999999999"], 2, "--limit"),
    # api serve
    "api log-level bogus": Case(["api", "serve", "--no-auth", "--log-level", "bogus"], 2, "--log-level must be one of"),
    "api no-auth beyond loopback": Case(["api", "serve", "--no-auth", "--host", "0.0.0.0"], 2,
                                        "--no-auth is only allowed on a loopback"),
    "api host empty": Case(["api", "serve", "--host", ""], 2, "--host is empty", env={"SC_API_TOKEN": "t" * 20}),
    "api port 0": Case(["api", "serve", "--port", "0"], 2, "--port"),
    # the store
    "malformed mongodb URL": Case(["--db", "mongodb://", "job", "list"], 2,
                                  "is not valid: Must provide at least one hostname", db=False),
    "mongodb URL bad port": Case(["--db", "mongodb://h:99999/", "job", "list"], 2, "Port must be", db=False),
    "mongodb URL unknown option": Case(["--db", "mongodb://u:pw@h/?nosuch=1", "job", "list"], 2, "mongodb://u:***@h/",
                                       db=False),
    "mongodb URL bad timeout option": Case(["--db", "mongodb://h/?serverSelectionTimeoutMS=x", "job", "list"], 2,
                                           "must be an integer", db=False),
    "MONGO_URL malformed": Case(["job", "list"], 2, "'mongodb://h:0x/' (from MONGO_URL) is not valid",
                                env={"MONGO_URL": "mongodb://h:0x/"}, db=False),
    "settings db_url malformed": Case(["job", "list"], 2, "(from settings db_url) is not valid",
                                      settings={"db_url": "mongodb://"}, db=False),
    "srv URL without host": Case(["--db", "mongodb+srv://", "job", "list"], 2, "names no host", db=False),
    "unsupported scheme": Case(["--db", "ftp://h/x", "job", "list"], 2, "unsupported store URL", db=False),
    "empty --db": Case(["--db", "", "job", "list"], 2, "--db is empty", db=False),
    "db name with /": Case(["--db-name", "a/b", "job", "list"], 2, "database name 'a/b' (from --db-name) is not valid"),
    "db name with .": Case(["--db-name", "a.b", "job", "list"], 2, "is not valid"),
    "db name too long": Case(["--db-name", "x" * 64, "job", "list"], 2, "is not valid"),
    "db name empty": Case(["--db-name", "", "job", "list"], 2, "--db-name is empty"),
    "DB_NAME with /": Case(["job", "list"], 2, "(from DB_NAME) is not valid", env={"DB_NAME": "a/b"}),
    "database in the URL with $": Case(["--db", "mongodb://h/a$b", "job", "list"], 2, "(from the URL) is not valid",
                                       db=False),
    "SC_DB_TIMEOUT_MS not a number": Case(["job", "list"], 2, "SC_DB_TIMEOUT_MS must be a whole number",
                                          env={"SC_DB_TIMEOUT_MS": "abc"}),
    "SC_DB_TIMEOUT_MS negative": Case(["job", "list"], 2, "SC_DB_TIMEOUT_MS must be between",
                                      env={"SC_DB_TIMEOUT_MS": "-1"}),
    "XDG_DATA_HOME a file": Case(["dataset", "add"], 3, "cannot create the SQLite store's folder",
                                 env={"XDG_DATA_HOME": "@file"}, db=False),
    "store path a directory": Case(["--db", "sqlite:///@dir", "dataset", "add"], 3, "cannot open SQLite store",
                                   db=False),
    "store file not SQLite": Case(["--db", "sqlite:///@file", "job", "list"], 3, "file is not a database", db=False),
    "named store missing": Case(["--db", "sqlite:///@dir/missing.db", "job", "list"], 3,
                                "does not exist (a command that writes creates it)", db=False),
    "NUL in an argument": Case(["dataset", "add", "--name", "a\x00b"], 2, "contains a NUL character"),
    "NUL in a path": Case(["service", "stop", "--pid-file", "/tmp/a\x00b"], 2, "contains a NUL character"),
    # settings (issue 11 item 8)
    "settings workers 1e9": Case(["job", "list"], 2, "settings: workers must be a whole number between 1 and 256",
                                 settings={"workers": 1e9}),
    "settings workers 300": Case(["job", "list"], 2, "settings: workers must be", settings={"workers": 300}),
    "settings stale 0": Case(["service", "status"], 2, "settings: stale_after_seconds must be",
                             settings={"stale_after_seconds": 0}),
    "settings poll 0": Case(["job", "list"], 2, "settings: poll_interval_seconds must be",
                            settings={"poll_interval_seconds": 0}),
    "settings stale under two heartbeats": Case(["job", "list"], 2, "at least twice heartbeat_seconds",
                                                settings={"heartbeat_seconds": 10, "stale_after_seconds": 15}),
    "settings negative drain": Case(["job", "list"], 2, "settings: drain_seconds must be",
                                    settings={"drain_seconds": -1}),
    "settings kill grace absurd": Case(["job", "list"], 2, "settings: kill_grace_seconds must be",
                                       settings={"kill_grace_seconds": 1e12}),
    "settings NaN": Case(["job", "list"], 2, "is not valid JSON", settings='{"poll_interval_seconds": NaN}'),
    "settings Infinity": Case(["job", "list"], 2, "is not valid JSON", settings='{"heartbeat_seconds": Infinity}'),
    "settings converters not a list": Case(["job", "list"], 2, "settings: converters.TIFF must be a list of strings",
                                           settings={"converters": {"TIFF": "x"}}),
    "settings converters item": Case(["job", "list"], 2, "settings: converters.TIFF[0] must be a string",
                                     settings={"converters": {"TIFF": [1]}}),
    "settings cap 0": Case(["job", "list"], 2, "settings: max_concurrent_by_type.dataset_conversion must be",
                           settings={"max_concurrent_by_type": {"dataset_conversion": 0}}),
    "settings handler spec": Case(["job", "list"], 2, "settings: handlers.x must be a 'module:function' string",
                                  settings={"handlers": {"x": "y"}}),
    "settings unknown key": Case(["job", "list"], 2, "settings: unknown key 'wrokers'", settings={"wrokers": 2}),
    "settings wrong type": Case(["job", "list"], 2, "settings: offline must be true or false",
                                settings={"offline": "no"}),
    "settings db_name": Case(["job", "list"], 2, "settings: db_name must be a database name",
                             settings={"db_name": "a b"}),
    "settings not an object": Case(["job", "list"], 2, "settings must be a JSON object", settings="[]"),
    "settings truncated": Case(["job", "list"], 2, "is not valid JSON", settings="{"),
    "settings deep": Case(["job", "list"], 2, "nested too deeply", settings="[" * 100_000),
    "settings empty file": Case(["job", "list"], 2, "is empty", settings=""),
    # issue 19 item 9: the exit-70s and hangs of the attack run
    "job show id with a trailing newline": Case(["job", "show", DATASET + "\n"], 2, "contains a control character"),
    "dataset show uuid with a trailing newline": Case(["dataset", "show", DATASET + "\n"], 2,
                                                      "contains a control character"),
    "create dataset with a trailing newline": Case([*CREATE[:2], "--dataset", DATASET + "\n", *CREATE[4:]], 2,
                                                   "contains a control character"),
    "job list dataset with a trailing newline": Case(["job", "list", "--dataset", DATASET + "\n"], 2,
                                                     "contains a control character"),
    "job show invalid UTF-8": Case(["job", "show", "\udcff\udcfe"], 2, "is not valid UTF-8"),
    "job cancel invalid UTF-8": Case(["job", "cancel", "\udcff"], 2, "is not valid UTF-8"),
    "dataset add name invalid UTF-8": Case(["dataset", "add", "--name", "a\udce9"], 2, "is not valid UTF-8"),
    "cancel older-than 10^40": Case(["job", "cancel", "--older-than", "1" + "0" * 40, "--yes"], 2, "--older-than"),
    "retry older-than 10^40 days": Case(["job", "retry", "--older-than", "1" + "0" * 40 + "d", "--yes"], 2,
                                        "--older-than"),
    "service run pid-file /": Case(["service", "run", "--until-idle", "--pid-file", "/"], 2,
                                   "PID file / is a directory", settings=DIRS),
    "service run pid-file under /proc": Case(["service", "run", "--until-idle", "--pid-file", "/proc/sc.pid"], 2,
                                             "is under /proc", settings=DIRS),
    "service stop pid-file under /proc": Case(["service", "stop", "--pid-file", "/proc/self/status"], 2,
                                              "is under /proc"),
    "service stop pid-file a FIFO": Case(["service", "stop", "--pid-file", "@fifo"], 2, "does not hold a PID"),
    "service stop pid-file huge": Case(["service", "stop", "--pid-file", "@file"], 2, "does not hold a PID"),
    "SQLite path of 5,000 characters": Case(["--db", "sqlite:///@dir/" + "x" * 5000, "job", "list"], 2,
                                            "too long", db=False),
    "SQLite path component too long": Case(["--db", "sqlite:///@dir/" + "x" * 300 + ".db", "dataset", "add"], 2,
                                           "too long", db=False),
    "api_roles an unknown role": Case(["job", "list"], 2,
                                      "settings: api_roles.a must be one of 'operator', 'viewer', got 'admin'",
                                      settings={"api_roles": {"a": "admin"}}),
    "api_roles unknown role at service start": Case(["service", "run", "--until-idle"], 2,
                                                    "settings: api_roles.a must be one of",
                                                    settings={**DIRS, "api_roles": {"a": "admin"}}),
    "job wait timeout nan": Case(["job", "wait", "@job", "--timeout", "nan"], 2, "is not a finite number"),
    "job wait timeout inf": Case(["job", "wait", "@job", "--timeout", "inf"], 2, "--timeout"),
    "job wait timeout 1e300": Case(["job", "wait", "@job", "--timeout", "1e300"], 2, "--timeout"),
    "settings /dev/zero": Case(["--settings", "/dev/zero", "job", "list"], 2, "larger than"),
    "params-json @/dev/zero": Case([*CREATE, "--params-json", "@/dev/zero"], 2, "larger than"),
    "service run settings /dev/zero": Case(["service", "run", "/dev/zero", "--until-idle"], 2, "larger than"),
}


def snapshot(db: str) -> Any:
    """Every job, dataset and event (read without the environment a case may have spoiled)."""
    store = open_target(StoreTarget(db, "scientistcloud", "test", "test"), timeout_ms=3000)
    try:
        jobs = store.find_jobs(JobQuery(), limit=10_000)
        return jobs, store.find_datasets(limit=10_000), [store.find_events(j["job_id"]) for j in jobs]
    finally:
        store.close()


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A store with a dataset and a job, a plain file and a directory to point bad paths at."""
    for key in ("SC_DB_URL", "MONGO_URL", "DB_NAME", "SC_DB_TIMEOUT_MS", "SC_API_TOKEN", "SC_DEBUG"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    db = f"sqlite:///{tmp_path / 'sc.db'}"
    runner = CliRunner()
    assert runner.invoke(app, ["--db", db, "dataset", "add", "--uuid", DATASET]).exit_code == 0
    created = runner.invoke(app, ["--db", db, *CREATE, "--json"])
    assert created.exit_code == 0
    (tmp_path / "plain-file").write_text("not a database, not a directory\n" * 40)
    (tmp_path / "a-dir").mkdir()
    os.mkfifo(tmp_path / "a-fifo")  # no writer: a blocking read of it never returns
    return {"db": db, "tmp": tmp_path, "runner": runner, "job": json.loads(created.stdout)["job_id"]}


def expand(text: str, tmp: Path) -> str:
    for mark, name in (("@file", "plain-file"), ("@dir", "a-dir"), ("@fifo", "a-fifo")):
        text = text.replace(mark, str(tmp / name))
    return text


def assert_refused_cleanly(result: Any, code: int, says: str) -> None:
    assert result.exit_code == code, (result.exit_code, result.stderr, result.stdout[:300])
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout and "internal error" not in result.stderr
    assert says in lines[0], lines[0]


#: No refusal waits: a case still running after this long is a hang (the ceiling is generous for a loaded machine).
CASE_SECONDS = 60


def invoke_within(runner: CliRunner, args: list[str], seconds: int) -> Any:
    """Invoke the CLI, failing the test (instead of hanging it) when it runs past ``seconds``."""
    def give_up(*_: Any) -> None:
        raise AssertionError(f"still running after {seconds} s: {[a[:60] for a in args]}")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(seconds)
    try:
        return runner.invoke(app, args, catch_exceptions=False)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_refused_at_the_door(name: str, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES[name]
    tmp: Path = world["tmp"]
    for key, value in case.env.items():
        monkeypatch.setenv(key, expand(value, tmp))
    # @job: the pending job (a wait for it would hang)
    args = [expand(a, tmp).replace("@job", world["job"]) for a in case.args]
    if case.settings is not None:
        path = tmp / "settings.json"
        path.write_text(expand(case.settings if isinstance(case.settings, str) else json.dumps(case.settings), tmp))
        args = ["--settings", str(path), *args]
    if case.db:
        args = ["--db", world["db"], *args]
    before = snapshot(world["db"])
    result = invoke_within(world["runner"], args, CASE_SECONDS)
    assert_refused_cleanly(result, case.code, case.says)
    assert snapshot(world["db"]) == before
    assert not (tmp / "a-dir" / "missing.db").exists()


#: Odd values tried on every option below (empty, blank, signs, huge, non-finite, unicode, long).
ODD = ["", " ", "-1", "0", "1e400", "nan", "inf", str(2**70), "é☃", "x" * 5000, "1.5", "-", "--",
       DATASET + "\n", "\udcff", "1" + "0" * 40, "/", "/proc/1"]
OPTIONS = [
    [*CREATE, "--param"], [*CREATE, "--params-json"], [*CREATE, "--priority"], [*CREATE, "--max-attempts"],
    [*CREATE, "--timeout-minutes"],
    ["job", "create", "--type", "data_validation", "--dataset"], [*CREATE[:4], "--type"], ["job", "show"],
    ["job", "retry"], ["job", "cancel"],
    ["job", "list", "--status"], ["job", "list", "--type"], ["job", "list", "--dataset"], ["job", "list", "--limit"],
    ["dataset", "add", "--uuid"], ["dataset", "add", "--status"], ["dataset", "add", "--extra-json"],
    ["dataset", "show"],
    ["dataset", "list", "--status"], ["dataset", "list", "--limit"], ["monitor", "failed", "--hours"],
    ["monitor", "failed", "--type"],
    ["monitor", "failed", "--signature"], ["monitor", "metrics", "--hours"], ["monitor", "report", "--days"],
    ["monitor", "cleanup", "--dry-run", "--days"], ["service", "stop", "--wait"], ["service", "stop", "--worker-id"],
    ["service", "stop", "--pid-file"],
    ["migrate", "run", "--dry-run", "--grace-seconds"], ["migrate", "run", "--dry-run", "--dataset-uuid"],
    ["migrate", "run", "--dry-run", "--batch-size"],
    ["migrate", "rollback", "--dry-run", "--migration"], ["migrate", "list", "--limit"],
    ["job", "cancel", "--dry-run", "--older-than"], ["job", "retry", "--dry-run", "--older-than"],
    ["service", "prune", "--dry-run", "--older-than"], ["job", "wait", DATASET, "--timeout"],
    ["job", "logs", "--tail", "0"], ["monitor", "failed", "--dry-run", "--retry", "--hours"],
]


def test_fuzzed_options_never_crash(world: dict[str, Any]) -> None:
    """Every option with every odd value: success, or one clean error line; never exit 70."""
    tried = refused = 0
    for option in OPTIONS:
        for value in ODD:
            before = snapshot(world["db"])
            result = world["runner"].invoke(app, ["--db", world["db"], *option, value], catch_exceptions=False)
            tried += 1
            assert result.exit_code != 70, (option, value, result.stderr)
            if result.exit_code:
                refused += 1
                lines = result.stderr.splitlines()
                assert len(lines) == 1 and lines[0].startswith("Error: "), (option, value, result.stderr)
                # `service stop` exits 1 after a refusal to signal, having written nothing either
                if option[0] != "service":
                    assert snapshot(world["db"]) == before, (option, value)
    assert tried == len(OPTIONS) * len(ODD) and refused > tried // 2
    if os.environ.get("SC_SHOW_FIGURES"):
        print(f"\nfuzzed options: {tried} tried, {refused} refused cleanly, {tried - refused} accepted")


def test_parameters_over_the_document_limit_are_refused(world: dict[str, Any]) -> None:
    big = world["tmp"] / "big.json"
    big.write_text(json.dumps({"blob": "x" * (17 * 1024 * 1024)}))
    before = snapshot(world["db"])
    result = world["runner"].invoke(
        app, ["--db", world["db"], *CREATE, "--params-json", f"@{big}"], catch_exceptions=False
    )
    assert_refused_cleanly(result, 2, "bytes is more than the store can hold")
    assert snapshot(world["db"]) == before
