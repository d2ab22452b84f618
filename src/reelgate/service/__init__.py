"""The service: the rules between the dialects and the store, once for every caller."""

from reelgate.service.downloads import Downloads
from reelgate.service.keys import KeyAdmin, KeyDefaults
from reelgate.service.operations import ModelQueue, Operations, QueueView, Readiness
from reelgate.service.requests import Caller, CreateTask, IdempotencyKey, ImageUpload, ImageUrl
from reelgate.service.tasks import Delivery, ModelCatalog, TaskService
from reelgate.service.watch import TaskWatcher, state_id

__all__ = [
    "Caller",
    "CreateTask",
    "Delivery",
    "Downloads",
    "IdempotencyKey",
    "ImageUpload",
    "ImageUrl",
    "KeyAdmin",
    "KeyDefaults",
    "ModelCatalog",
    "ModelQueue",
    "Operations",
    "QueueView",
    "Readiness",
    "TaskService",
    "TaskWatcher",
    "state_id",
]
