"""Resource limits of one sandbox session (each `run` is limited separately)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Limits(BaseModel):
    """Per-run and per-session limits. Sizes in MiB unless the name says bytes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout_s: float = Field(30.0, gt=0, description="wall clock per run")
    cpu_s: float = Field(60.0, gt=0, description="CPU time per run (all threads)")
    memory_mb: int = Field(1024, ge=32, description="memory of the whole session process tree")
    max_procs: int = Field(64, ge=4, description="processes and threads of the session")
    cpus: float = Field(1.0, gt=0, le=1024, description="CPU cores the session may use (quota)")
    max_file_mb: int = Field(256, ge=1, description="largest file the code may write")
    max_workspace_mb: int = Field(512, ge=1, description="workspace and /tmp size")
    max_output_bytes: int = Field(1_000_000, ge=1024, description="stdout and stderr, each")
    max_figures: int = Field(8, ge=0, description="figures per run")
    max_figure_bytes: int = Field(5_000_000, ge=1024, description="one figure's PNG bytes")
    max_figures_total_bytes: int = Field(16_000_000, ge=1024, description="all of a run's")
    max_input_file_mb: int = Field(100, ge=1, description="largest file add_file/put_file accept")
    max_read_file_mb: int = Field(100, ge=1, description="largest file read_file returns")
