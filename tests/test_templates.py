"""The one sandbox every untrusted Jinja template renders in (bench/templates.py): task templates and chat
templates refuse Python's internals and stop at the work budget, and a chat template renders exactly as
`tokenizer.apply_chat_template` renders it."""

from __future__ import annotations

import jinja2
import pytest

from bench import templates
from bench.models.chat import render_messages
from bench.models.requests import ChatRequest


def render(text: str, env=None, **context) -> str:
    return templates.render((env or templates.task_environment()).from_string(text), context)


@pytest.mark.parametrize("text", [
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__.__builtins__.open('/etc/hostname').read() }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
])
def test_python_internals_are_refused(text):
    for env in (templates.task_environment(), templates.chat_environment()):
        with pytest.raises(jinja2.sandbox.SecurityError):
            render(text, env)


def test_values_passed_in_cannot_be_changed():
    doc = {"xs": [1, 2]}
    with pytest.raises(jinja2.sandbox.SecurityError):
        render("{{ xs.append(3) }}", **doc)
    assert doc == {"xs": [1, 2]}


@pytest.mark.parametrize("text, says", [
    ("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", "100,000 loop"),
    ("{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}", "100,000 loop"),
    ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "recursed"),
    ("{{ 'x' * 100000000 }}", "longer than"),
    ("{{ 100000000 * 'x' }}", "longer than"),
    ("{% set ns = namespace(s='x') %}{% for i in range(30) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", "longer"),
    ("{% set ns = namespace(s='x') %}{% for i in range(30) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", "longer"),
    ("{{ 2 ** 100000 }}", "power"),
    ("{% set ns = namespace(x=3) %}{% for i in range(40) %}{% set ns.x = ns.x * ns.x %}{% endfor %}", "bits"),
])
def test_runaway_templates_stop_at_the_budget(text, says):
    with pytest.raises(templates.TemplateBudgetError, match=says):
        render(text)


def test_the_budget_is_per_render_and_ordinary_templates_fit():
    text = "{% for c in choices %}{{ loop.index }}. {{ c }}\n{% endfor %}{{ question }}"
    for _ in range(3):
        assert render(text, choices=["a", "b"], question="Q?") == "1. a\n2. b\nQ?"
    assert len(render("{% for i in range(50000) %}x{% endfor %}")) == 50000


def test_include_and_python_errors_are_template_errors():
    with pytest.raises(jinja2.TemplateNotFound) as e:
        render("{% include 'secrets.txt' %}")
    assert "cannot read other files" in templates.problem(e.value)
    with pytest.raises(jinja2.TemplateError, match="ZeroDivisionError"):
        render("{{ 1 / 0 }}")
    with pytest.raises(jinja2.UndefinedError):
        render("{{ missing }}")


QWEN_STYLE = (  # in the style of Qwen3's template: slices, namespaces, loop controls, string methods, tojson
    "{%- if messages[0].role == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}\n"
    "{%- endif %}\n"
    "{%- set ns = namespace(last_user=messages|length - 1) %}\n"
    "{%- for message in messages[::-1] %}\n"
    "    {%- if message.role == 'user' and ns.last_user == messages|length - 1 %}"
    "{% set ns.last_user = messages|length - 1 - loop.index0 %}{% endif %}\n"
    "{%- endfor %}\n"
    "{%- for message in messages %}\n"
    "    {%- if message.role == 'system' and loop.first %}{% continue %}{% endif %}\n"
    "    {%- if message.role == 'assistant' %}\n"
    "        {%- generation %}{{- '<|im_start|>assistant\\n' + "
    "message.content.split('</think>')[-1].lstrip('\\n') + '<|im_end|>\\n' }}{%- endgeneration %}\n"
    "    {%- else %}\n"
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content | trim + '<|im_end|>' + '\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{{- bos_token if false else '' }}{{ {'n': ns.last_user} | tojson }}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n"
    "    {%- if enable_thinking is defined and enable_thinking is false %}\n"
    "        {{- '<think>\\n\\n</think>\\n\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endif %}\n"
)


@pytest.mark.parametrize("template", ["smollm2", "test", QWEN_STYLE])
@pytest.mark.parametrize("thinking", [None, True, False])
def test_chat_templates_render_as_transformers_renders_them(template, thinking, tiny_backend, request):
    from tests.test_generative import TEMPLATE

    tok = tiny_backend.tokenizer
    if template == "smollm2":
        from bench.models.loading import load_tokenizer, resolve

        request.getfixturevalue("smollm2_dir")
        tok = load_tokenizer(resolve("builtin:smollm2-135m"))
    text = {"test": TEMPLATE, "smollm2": tok.chat_template}.get(template, template)
    for messages in ((("user", "Pick A or B."),),
                     (("system", "Be brief."), ("user", "Q1?"), ("assistant", "<think>x</think>\nAnswer: A"),
                      ("user", "Q2?"))):
        r = ChatRequest(prompt="p", messages=messages, chat_template=text, enable_thinking=thinking)
        kwargs = {} if thinking is None else {"enable_thinking": thinking}
        theirs = tok.apply_chat_template([{"role": a, "content": b} for a, b in messages], chat_template=text,
                                         tokenize=False, add_generation_prompt=True, **kwargs)
        assert render_messages(tok, text, r) == theirs

