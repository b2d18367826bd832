"""Chat-template analysis: ordinary templates stay clean, sandbox-escape shapes are caught."""

from __future__ import annotations

import pytest

from anzhi.develop.models._chat_template import analyze_chat_template
from anzhi.develop.models._result import Verdict, worst_verdict

# Templates in the shape of the common families (written for these tests).
CHATML = """{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>'
+ '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"""

LLAMA3 = """{{- bos_token }}
{%- if custom_tools is defined %}{%- set tools = custom_tools %}{%- endif %}
{%- if not tools_in_user_message is defined %}{%- set tools_in_user_message = true %}{%- endif %}
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}{%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}{%- set date_string = "26 Jul 2024" %}{%- endif %}
{%- endif %}
{%- if not tools is defined %}{%- set tools = none %}{%- endif %}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}{%- set system_message = "" %}{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{%- if builtin_tools is defined or tools is not none %}{{- "Environment: ipython\n" }}{%- endif %}
{%- if builtin_tools is defined %}
    {{- "Tools: " + builtin_tools | reject('equalto', 'code_interpreter') | join(", ") + "\n\n"}}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\n" }}{{- "Today Date: " + date_string + "\n\n" }}
{{- system_message }}{{- "<|eot_id|>" }}
{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'
            + message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {{- '{"name": "' + tool_call.name + '", ' }}{{- '"parameters": ' }}{{- tool_call.arguments | tojson }}
        {{- "}" }}{{- "<|eot_id|>" }}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {%- if message.content is mapping or message.content is iterable %}{{- message.content | tojson }}
        {%- else %}{{- message.content }}{%- endif %}{{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{%- endif %}"""

QWEN_TOOLS = """{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] }}
    {%- else %}{{- 'You are helpful.' }}{%- endif %}
    {{- "\n\n# Tools\n\n<tools>" }}
    {%- for tool in tools %}{{- "\n" }}{{- tool | tojson }}{%- endfor %}
    {{- "\n</tools><|im_end|>\n" }}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and not(message.content.startswith('<tool_response>')) %}
        {%- set ns.multi_step_tool = false %}{%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.content is string %}{%- set content = message.content %}
    {%- else %}{%- set content = '' %}{%- endif %}
    {%- if message.role == "assistant" %}
        {%- set reasoning_content = '' %}
        {%- if '</think>' in content %}
            {%- set reasoning_content = content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
            {%- set content = content.split('</think>')[-1].lstrip('\n') %}
        {%- endif %}
        {{- '<|im_start|>' + message.role + '\n' + content }}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if tool_call.function %}{%- set tool_call = tool_call.function %}{%- endif %}
                {{- '<tool_call>\n{"name": "' }}{{- tool_call.name }}{{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}{{- tool_call.arguments }}
                {%- else %}{{- tool_call.arguments | tojson }}{%- endif %}
                {{- '}\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}{{- '<|im_start|>user' }}{%- endif %}
        {{- '\n<tool_response>\n' }}{{- content }}{{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}{{- '<|im_end|>\n' }}{%- endif %}
    {%- else %}{{- '<|im_start|>' + message.role + '\n' + content + '<|im_end|>' + '\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\n\n</think>\n\n' }}{%- endif %}
{%- endif %}"""

MISTRAL = """{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content'] %}
{%- set loop_messages = messages[1:] %}{%- else %}{%- set loop_messages = messages %}{%- endif %}
{{- bos_token }}
{%- for message in loop_messages %}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{- raise_exception('After the optional system message, conversation roles must alternate user/assistant') }}
    {%- endif %}
    {%- if message['role'] == 'user' %}
        {%- if loop.first and system_message is defined %}
            {{- ' [INST] ' + system_message + '\n\n' + message['content'] + ' [/INST]' }}
        {%- else %}{{- ' [INST] ' + message['content'] + ' [/INST]' }}{%- endif %}
    {%- elif message['role'] == 'assistant' %}{{- ' ' + message['content'] + eos_token}}
    {%- else %}{{- raise_exception('Only user and assistant roles are supported') }}{%- endif %}
{%- endfor %}"""

GEMMA = """{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}
{% endif %}{% for message in messages %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}
{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim +
'<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"""

TRAINING = """{% for message in messages %}{% if message.role == 'assistant' %}{% generation %}{{ message.content }}
{% endgeneration %}{% else %}{{ message.content }}{% endif %}{% if loop.last %}{% break %}{% endif %}{% endfor %}"""

MEDIA = """{% for m in messages %}{% for part in m['content'] %}{% if part['type'] == 'image' %}{{ '<__media__>' }}
{% else %}{{ part['text'] }}{% endif %}{% endfor %}{% endfor %}"""

JOINER = """{% set sep = joiner(', ') %}{% for m in messages %}{{ sep() }}{{ m.content }}{% endfor %}"""


@pytest.mark.parametrize("template", [CHATML, LLAMA3, QWEN_TOOLS, MISTRAL, GEMMA, TRAINING, MEDIA],
                         ids=["chatml", "llama3", "qwen-tools", "mistral", "gemma", "generation-tag", "media"])
def test_ordinary_templates_are_clean(template: str) -> None:
    assert analyze_chat_template(template, "key tokenizer.chat_template") == []


ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__['__builtins__']['__import__']('os') }}",
    "{{ namespace.__init__.__globals__.os.system('id') }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ range.__class__.__base__ }}",
    "{{ self._TemplateReference__context.cycler.__init__.__globals__.os }}",
    "{{ ''|attr('__class__') }}",
    "{{ messages|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "{{ x['__cla' ~ 'ss__'] }}",
    "{{ x|attr('__cla' + 'ss__') }}",
    "{{ x|attr('__ssalc__'|reverse) }}",
    "{{ x|attr('%c%cclass%c%c'|format(95, 95, 95, 95)) }}",
    "{{ x|attr(('%c%cglobals%c%c') % (95, 95, 95, 95)) }}",
    "{{ x|attr('__CLASS__'|lower) }}",
    "{{ x['__ssalc__'[::-1] ~ ''] }}",
    "{% set n = '__globals__' %}{{ x|attr(n) }}",
    "{{ dict(__class__=1)|list|first }}",
    "{{ '{0.__class__}'.format(x) }}",
    "{{ messages|map(attribute='__class__')|list }}",
    "{{ x.gi_frame.f_back.f_globals }}",
    "{% set b = '__buil' %}{% set c = b ~ 'tins__' %}{{ x[c] }}",
]


@pytest.mark.parametrize("template", ESCAPES)
def test_escapes_are_dangerous(template: str) -> None:
    reasons = analyze_chat_template(template, "key tokenizer.chat_template")
    assert worst_verdict([r.verdict for r in reasons]) == Verdict.DANGEROUS, reasons
    assert any(r.rule_id == "MODEL-461" for r in reasons)
    assert all(r.location.startswith("key tokenizer.chat_template line") for r in reasons)


def test_reason_explains_the_construct() -> None:
    reasons = analyze_chat_template("{{ cycler.__init__.__globals__ }}", "key t")
    messages = " | ".join(r.message for r in reasons)
    assert "'__init__'" in messages and "on cycler" in messages
    assert {r.detail["line"] for r in reasons} == {1}


def test_import_is_dangerous_and_include_review() -> None:
    imp = analyze_chat_template("{% import 'os' as os %}{{ os }}")
    assert {r.rule_id for r in imp} == {"MODEL-463"} and imp[0].verdict == Verdict.DANGEROUS
    frm = analyze_chat_template("{% from 'macros' import m %}{{ m() }}")
    assert {r.rule_id for r in frm} == {"MODEL-463"}
    inc = analyze_chat_template("{% include '/etc/passwd' %}")
    assert {r.rule_id for r in inc} == {"MODEL-464"} and inc[0].verdict == Verdict.REVIEW
    ext = analyze_chat_template("{% extends 'base' %}")
    assert {r.rule_id for r in ext} == {"MODEL-464"}


@pytest.mark.parametrize("template", [
    "{{ x|attr(name) }}",
    "{{ lipsum() }}",
    "{{ x._private }}",
    "{{ x.__media__ }}",
    "{{ x.os }}",
    "{{ x['a' ~ b] }}",
    JOINER,
])
def test_suspicious_constructs_are_review(template: str) -> None:
    reasons = analyze_chat_template(template)
    assert reasons and worst_verdict([r.verdict for r in reasons]) == Verdict.REVIEW
    assert {r.rule_id for r in reasons} == {"MODEL-462"}


def test_repeated_constructs_are_aggregated() -> None:
    reasons = analyze_chat_template("{{ a.__class__ }}{{ b.__class__ }}\n{{ c.__class__ }}")
    assert len(reasons) == 1 and reasons[0].detail["count"] == 3 and "(3 places)" in reasons[0].message


def test_unparseable_and_hostile_inputs() -> None:
    reasons = analyze_chat_template("{% if %}")
    assert [r.rule_id for r in reasons] == ["MODEL-465"] and reasons[0].verdict == Verdict.REVIEW
    deep = analyze_chat_template("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}")
    assert deep and deep[0].verdict == Verdict.REVIEW
    assert analyze_chat_template("") == []
