"""A loopback Ollama: `POST /api/embed` (a list input) and `GET /api/tags` (the pulled models),
in Ollama's own formats; a model that is not pulled gets Ollama's 404."""

from __future__ import annotations

from typing import Any

from tests.fakes._server import JSON, Action, FakeServer, Received, fake_vector, json_body

NATIVE_DIMENSIONS = {"nomic-embed-text": 768, "mxbai-embed-large": 1024}


def _bare(name: str) -> str:
    return name.removesuffix(":latest")


class FakeOllama(FakeServer):
    name = "ollama"

    def __init__(self) -> None:
        super().__init__()
        self.models = dict(NATIVE_DIMENSIONS)
        self.pulled: set[str] = set(NATIVE_DIMENSIONS)  # remove a name to act "not pulled"

    def own_env(self) -> dict[str, str]:
        return {"OLLAMA_HOST": self.url}

    def save_to_settings_row(self) -> None:
        from embeddings.models import ProviderCredential

        ProviderCredential.store({"ollama_host": self.url})

    def inputs_of(self, method: str, path: str, body: Any) -> list[str]:
        if not isinstance(body, dict):
            return []
        raw = body.get("input", [])
        return [raw] if isinstance(raw, str) else [t for t in raw if isinstance(t, str)]

    def scripted(self, request: Received) -> bool:
        return request.path != "/api/tags"

    def handle(self, request: Received, action: Action) -> tuple[int, dict[str, str], bytes]:
        if request.path == "/api/tags" and request.method == "GET":
            return (
                200,
                dict(JSON),
                json_body({"models": [self._tag(name) for name in sorted(self.pulled)]}),
            )
        if request.path != "/api/embed" or request.method != "POST":
            return 404, {"Content-Type": "text/plain"}, b"404 page not found"
        body = request.body if isinstance(request.body, dict) else {}
        model = _bare(str(body.get("model", "")))
        if action.kind == "status":
            if action.status == 404:
                return self._not_found(model)
            message = {429: "too many requests", 400: "invalid input type"}.get(action.status, "an error was encountered while running the model: unexpected EOF")  # fmt: skip
            return action.status, dict(JSON), json_body({"error": message})
        if model not in self.pulled or model not in self.models:
            return self._not_found(model)
        dimensions = self.models[model] - (1 if action.kind == "wrong-dimension" else 0)
        vectors = [fake_vector(text, dimensions) for text in request.inputs]
        payload = {
            "model": model,
            "embeddings": vectors[:-1] if action.kind == "short" else vectors,
            "total_duration": 14143917,
            "load_duration": 1019500,
            "prompt_eval_count": sum(len(text.split()) + 2 for text in request.inputs),
        }
        return 200, dict(JSON), json_body(payload)

    def _not_found(self, model: str) -> tuple[int, dict[str, str], bytes]:
        message = f'model "{model}" not found, try pulling it first'
        return 404, dict(JSON), json_body({"error": message})

    def _tag(self, name: str) -> dict[str, Any]:
        return {
            "name": f"{name}:latest",
            "model": f"{name}:latest",
            "modified_at": "2026-01-01T00:00:00Z",
            "size": 274302450,
            "digest": "0a109f422b47e3a30ba2b10eca18548e944e8a23073ee3f3e947efcf3c45e59f",
            "details": {"format": "gguf", "family": "nomic-bert", "parameter_size": "137M"},
        }
