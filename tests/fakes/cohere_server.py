"""A loopback Cohere Embed API v2: `POST /v2/embed` with a bearer key, answering
`{"id", "embeddings": {"float": [[…]]}, "texts", "meta": {"billed_units": {"input_tokens"}}}`
and Cohere's error shape `{"message": "…"}`. It checks the real limits (96 texts a request, the
input types, `embedding_types`, which models take `output_dimension`). Tokens are counted at
four characters each, as ours are."""

from __future__ import annotations

import math
import uuid
from typing import Any

from tests.fakes._server import JSON, Action, FakeServer, Received, fake_vector, json_body

NATIVE_DIMENSIONS = {"embed-english-v3.0": 1024, "embed-v4.0": 1536}
OUTPUT_DIMENSIONS = {"embed-v4.0": (256, 512, 1024, 1536)}
MAX_TEXTS = 96
INPUT_TYPES = ("search_document", "search_query", "classification", "clustering")

_MESSAGES = {
    400: "invalid request",
    403: "You are not authorized to access this resource.",
    429: "You are using a Trial key, which is limited to 100 API calls / minute.",
    500: "internal server error, this has been reported to our developers",
    503: "service unavailable",
}


class FakeCohere(FakeServer):
    name = "cohere"

    def __init__(self, api_key: str = "co-test-fake-cohere-key-0123456789") -> None:
        super().__init__()
        self.api_key = api_key
        self.models = dict(NATIVE_DIMENSIONS)
        self.max_texts = MAX_TEXTS  # lower it to see a batch refused

    def own_env(self) -> dict[str, str]:
        return {"COHERE_BASE_URL": self.url, "COHERE_API_KEY": self.api_key}

    def save_to_settings_row(self) -> None:
        from embeddings.models import ProviderCredential

        ProviderCredential.store({"cohere_base_url": self.url, "cohere_api_key": self.api_key})

    def inputs_of(self, method: str, path: str, body: Any) -> list[str]:
        if not isinstance(body, dict):
            return []
        return [t for t in body.get("texts", []) if isinstance(t, str)]

    def handle(self, request: Received, action: Action) -> tuple[int, dict[str, str], bytes]:
        if request.path != "/v2/embed" or request.method != "POST":
            return self._error(404, f"route {request.path} not found")
        if request.headers.get("authorization", "") != f"Bearer {self.api_key}":
            return self._error(401, "invalid api token")
        if action.kind == "status":
            return self._error(action.status, _MESSAGES.get(action.status, "error"))
        body = request.body if isinstance(request.body, dict) else {}
        model = str(body.get("model", ""))
        if model not in self.models:
            return self._error(404, f"model '{model}' not found, make sure the correct model ID was used and that you have access to the model.")  # fmt: skip
        texts = request.inputs
        if len(texts) > self.max_texts:
            return self._error(400, f"invalid request: total number of texts must be at most {self.max_texts} - received {len(texts)}")  # fmt: skip
        if body.get("input_type") not in INPUT_TYPES:
            return self._error(400, "invalid request: input_type is required for embed models v3 and higher.")  # fmt: skip
        if body.get("embedding_types") != ["float"]:
            return self._error(400, "invalid request: this fake answers float embeddings only")
        dimensions = body.get("output_dimension") or self.models[model]
        if body.get("output_dimension") is not None and dimensions not in OUTPUT_DIMENSIONS.get(model, ()):  # fmt: skip
            return self._error(400, f"invalid request: output_dimension is not supported for {model}")  # fmt: skip
        if action.kind == "wrong-dimension":
            dimensions -= 1
        payload = {
            "id": str(uuid.uuid4()),
            "embeddings": {"float": [fake_vector(text, int(dimensions)) for text in texts]},
            "texts": texts,
            "meta": {
                "api_version": {"version": "2"},
                "billed_units": {"input_tokens": sum(max(1, math.ceil(len(t) / 4)) for t in texts)},
            },
            "response_type": "embeddings_by_type",
        }
        return 200, dict(JSON), json_body(payload)

    def _error(self, status: int, message: str) -> tuple[int, dict[str, str], bytes]:
        return status, dict(JSON), json_body({"message": message})
