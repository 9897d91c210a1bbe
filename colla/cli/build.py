"""``colla base``, ``colla build`` and ``colla images``."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from colla.cli.console import err, out
from colla.cli.lab import images_send
from colla.engine import DockerEngine
from colla.errors import BadInput, BuildFailed, CollaError
from colla.images import graph
from colla.images.base import BaseSettings, ensure_base
from colla.images.builder import (
    LABEL_IMAGE,
    LABEL_PACKAGES,
    LABEL_TEMPLATE,
    LABEL_VERSION,
    BuildOptions,
    ImageResult,
    Status,
    build_images,
)
from colla.images.catalog import load_catalog
from colla.images.config import DEFAULT_BASE_IMAGE, DEFAULT_MIRROR, load_build_config
from colla.images.render import Renderer, load_overrides


def default_log_dir() -> Path:
    """Per-image build logs: /var/log/colla/build as root, else under the user's state dir."""
    if os.geteuid() == 0:
        return Path("/var/log/colla/build")
    state = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local/state"))
    return state / "colla/build"


def human_size(size: int) -> str:
    """Bytes as Docker prints them (decimal units)."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if abs(value) < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def base(
    rebuild: bool = typer.Option(False, "--rebuild", help="Make a new one even if it exists."),
    from_image: str | None = typer.Option(
        None, "--from", help="Pull this image instead of running debootstrap."
    ),
    mirror: str = typer.Option(DEFAULT_MIRROR, help="Debian mirror for debootstrap."),
    suite: str = typer.Option("bookworm", help="Debian suite."),
    ref: str = typer.Option(DEFAULT_BASE_IMAGE, "--image", help="Name to give the base image."),
) -> None:
    """Make the base OS image offline (debootstrap + docker import), or reuse it."""
    settings = BaseSettings(
        ref=ref, suite=suite, mirror=mirror, from_image=from_image, rebuild=rebuild
    )
    engine = DockerEngine.connect()
    with err.status("making the base image") as status:
        result = ensure_base(engine, settings, lambda text: status.update(escape(text)))
    out.print(
        f"{result.ref} {result.image_id[7:19]} {human_size(result.size)} "
        f"({result.action}, {result.seconds:.1f} s)"
    )


class _ProgressObserver:
    """Draws running builds as spinners with their latest line; prints each result."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def started(self, name: str) -> None:
        self._tasks[name] = self._progress.add_task(name, total=None, line="starting")

    def line(self, name: str, text: str) -> None:
        task = self._tasks.get(name)
        if task is not None and not text.startswith("  |"):
            self._progress.update(task, line=escape(text.strip()[:70]))

    def finished(self, result: ImageResult) -> None:
        task = self._tasks.pop(result.name, None)
        if task is not None:
            self._progress.remove_task(task)
        colour = {
            Status.BUILT: "green",
            Status.CACHED: "cyan",
            Status.FAILED: "red",
            Status.SKIPPED: "yellow",
        }[result.status]
        detail = escape(result.reason) if result.reason else f"{result.seconds:.1f} s"
        self._progress.console.print(
            f"[{colour}]{result.status:>7}[/] {result.name}  {detail}", highlight=False
        )


def _summary(results: list[ImageResult]) -> Table:
    table = Table(title="build summary")
    for column in ("image", "status", "seconds", "size", "added", "id"):
        table.add_column(
            column, justify="right" if column in ("seconds", "size", "added") else "left"
        )
    for r in results:
        table.add_row(
            r.name,
            str(r.status),
            f"{r.seconds:.1f}" if r.status in (Status.BUILT, Status.CACHED, Status.FAILED) else "",
            human_size(r.size) if r.size else "",
            human_size(r.added) if r.image_id else "",
            r.image_id[7:19] if r.image_id else "",
        )
    return table


def build(
    filters: list[str] = typer.Argument(None, help="Regular expressions choosing images."),
    profile: str | None = typer.Option(None, "--profile", "-p", help="A profile: infra, core…"),
    list_: bool = typer.Option(False, "--list", help="Print the image tree and exit."),
    threads: int | None = typer.Option(None, "--threads", min=1, max=16, help="Parallel builds."),
    tag: str | None = typer.Option(None, "--tag", help="Image tag (default: zed)."),
    namespace: str | None = typer.Option(None, "--namespace", help="Image namespace."),
    push: str | None = typer.Option(None, "--push", help="Push built images to REGISTRY."),
    overrides: list[Path] = typer.Option(
        [], "--template-override", help="A Jinja file replacing template blocks (repeatable)."
    ),
    template_only: Path | None = typer.Option(
        None, "--template-only", help="Write the rendered Dockerfiles to DIR; build nothing."
    ),
    config_file: Path | None = typer.Option(
        None, "--config", help="Build settings YAML (<image>_packages_append/remove…)."
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Ignore Docker's layer cache."),
    log_dir: Path | None = typer.Option(None, "--log-dir", help="Per-image build logs."),
    catalog_dir: Path | None = typer.Option(
        None, "--catalog", help="An image catalog directory instead of the shipped one."
    ),
) -> None:
    """Build images of the tree, parents first, in parallel, with Docker's cache."""
    catalog = load_catalog(catalog_dir)
    config = load_build_config(config_file, catalog).with_options(
        tag=tag, namespace=namespace, threads=threads
    )
    renderer = Renderer(catalog, config, load_overrides(overrides))
    names = graph.order(catalog, graph.select(catalog, filters or [], profile))
    if list_:
        for line in graph.tree_lines(catalog, names):
            out.print(line)
        return
    if template_only is not None:
        _write_templates(renderer, names, template_only)
        return
    engine = DockerEngine.connect()
    if "base" in names and engine.image(config.base_image) is None:
        raise CollaError(f"the base OS image {config.base_image} is missing: run `colla base`")
    options = BuildOptions(
        log_dir=log_dir or default_log_dir(),
        threads=config.threads,
        nocache=no_cache,
        push=push,
    )
    err.print(
        f"building {len(names)} images with {options.threads} workers; logs in {options.log_dir}"
    )
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description:<16}"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[line]}"),
        console=err,
        transient=True,
    ) as progress:
        results = build_images(
            engine, catalog, renderer, config, names, options, _ProgressObserver(progress)
        )
    out.print(_summary(results))
    failed = [r for r in results if r.status is Status.FAILED]
    for r in failed:
        err.print(f"[red]{r.name} failed:[/] {escape(r.reason)}\n  log: {r.log_path}")
        for text in r.tail:
            err.print(f"  | {escape(text)}")
    if failed:
        skipped = sum(1 for r in results if r.status is Status.SKIPPED)
        raise BuildFailed(
            f"{len(failed)} image(s) failed ({', '.join(r.name for r in failed)}), "
            f"{skipped} skipped"
        )


def _write_templates(renderer: Renderer, names: list[str], target: Path) -> None:
    if target.exists() and not target.is_dir():
        raise BadInput(f"--template-only {target}: exists and is not a directory")
    rendered = [renderer.render(name) for name in names]
    target.parent.mkdir(parents=True, exist_ok=True)
    # Render everything first and move it into place at the end: nothing half-written.
    staging = Path(tempfile.mkdtemp(prefix=".colla-templates-", dir=target.parent))
    try:
        for image in rendered:
            directory = staging / image.name
            directory.mkdir()
            (directory / "Dockerfile").write_text(image.dockerfile, encoding="utf-8")
            for name, content in image.files:
                (directory / name).write_bytes(content)
        if target.exists():
            for image in rendered:
                shutil.rmtree(target / image.name, ignore_errors=True)
                (staging / image.name).rename(target / image.name)
        else:
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    out.print(f"wrote {len(rendered)} Dockerfiles under {target}")


images_app = typer.Typer(
    help="colla's images: list them (no sub-command), or send them to a node.",
    invoke_without_command=True,
)


@images_app.callback()
def images(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List colla's images with their template hash and package versions."""
    if ctx.invoked_subcommand is not None:
        return
    engine = DockerEngine.connect()
    found = sorted(engine.images(LABEL_IMAGE), key=lambda i: (i.labels[LABEL_IMAGE], i.tags))
    rows = [
        {
            "image": i.labels[LABEL_IMAGE],
            "tags": list(i.tags),
            "id": i.id,
            "size": i.size,
            "created": i.created,
            "colla_version": i.labels.get(LABEL_VERSION, ""),
            "template_hash": i.labels.get(LABEL_TEMPLATE, ""),
            "packages": i.labels.get(LABEL_PACKAGES, "").split(),
        }
        for i in found
    ]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table()
    for column in ("image", "tags", "id", "size", "template", "packages"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["image"]),
            "\n".join(row["tags"]) or "<none>",  # type: ignore[arg-type]
            str(row["id"])[7:19],
            human_size(int(row["size"])),  # type: ignore[call-overload]
            str(row["template_hash"]),
            "\n".join(row["packages"]),  # type: ignore[arg-type]
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(base)
    app.command()(build)
    # `colla images` lists; `colla images send` streams images to a node.
    images_app.command("send")(images_send)
    app.add_typer(images_app, name="images")
