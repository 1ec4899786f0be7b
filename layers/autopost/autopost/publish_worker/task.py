"""The upload task: the queue message the state machine sends, and what Step Functions
answers to a task token it no longer waits for."""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from autopost.domain.platforms import Platform


class UploadTask(BaseModel):
    """The queue message the state machine sends (statemachines/publish.asl.json)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    publication_id: str = Field(alias="publicationId", min_length=1, max_length=200)
    platform: Platform
    retry: int = 0
    # When the state machine sent it (its Dispatch state): recorded by the attempt it starts.
    dispatch: str = Field(default="", max_length=64)
    task_token: SecretStr = Field(alias="taskToken")

    def body(self) -> str:
        data = {
            "publicationId": self.publication_id,
            "platform": self.platform.value,
            "retry": self.retry,
            "dispatch": self.dispatch,
            "taskToken": self.task_token.get_secret_value(),
        }
        return json.dumps(data)


# What Step Functions answers to a task token it no longer waits for.
STALE_TASK_TOKEN_ERRORS = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})
