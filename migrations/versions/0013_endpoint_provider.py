"""GPU endpoints name their provider: RunPod or fal.

``runpod_endpoints.provider`` (``runpod`` | ``fal``): every existing row is a RunPod
endpoint and gets ``runpod``. The provider's own id (``runpod_endpoint_id``, a fal model
id for fal endpoints) is unique per provider instead of across all of them, and
``gpu_type`` becomes optional (fal names no GPU).

Revision ID: 0013_endpoint_provider
Revises: 0012_unfinished_by_consumer
Create Date: 2026-12-07 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_endpoint_provider"
down_revision: str | None = "0012_unfinished_by_consumer"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROVIDERS = ("runpod", "fal")
OLD_UNIQUE = "uq_runpod_endpoints_runpod_endpoint_id"
NEW_UNIQUE = "uq_runpod_endpoints_provider_runpod_endpoint_id"
CHECK = "endpoint_provider"  # ck_runpod_endpoints_endpoint_provider by the naming convention


def upgrade() -> None:
    """Add ``provider`` (existing rows: runpod), unique per provider, optional GPU type."""
    with op.batch_alter_table("runpod_endpoints") as batch:
        batch.add_column(
            sa.Column(
                "provider",
                sa.Enum(
                    *PROVIDERS,
                    name="endpoint_provider",
                    native_enum=False,
                    create_constraint=True,
                    length=20,
                ),
                nullable=False,
                server_default="runpod",
            )
        )
        batch.drop_constraint(OLD_UNIQUE, type_="unique")
        batch.create_unique_constraint(NEW_UNIQUE, ["provider", "runpod_endpoint_id"])
        batch.alter_column("gpu_type", existing_type=sa.String(50), nullable=True)


def downgrade() -> None:
    """Back to RunPod only: fal endpoints cannot be represented and must be gone first."""
    bind = op.get_bind()
    count = bind.execute(
        sa.text("SELECT count(*) FROM runpod_endpoints WHERE provider <> 'runpod'")
    ).scalar_one()
    if count:
        raise RuntimeError(f"{count} endpoint(s) on other providers than RunPod: remove them first")
    op.execute("UPDATE runpod_endpoints SET gpu_type = '' WHERE gpu_type IS NULL")
    with op.batch_alter_table("runpod_endpoints") as batch:
        batch.alter_column("gpu_type", existing_type=sa.String(50), nullable=False)
        batch.drop_constraint(NEW_UNIQUE, type_="unique")
        batch.create_unique_constraint(OLD_UNIQUE, ["runpod_endpoint_id"])
        batch.drop_constraint(CHECK, type_="check")
        batch.drop_column("provider")
