"""Shell completion scripts made from the command line's own parser, so they never drift from it."""

from __future__ import annotations

import argparse


def _tree(parser: argparse.ArgumentParser) -> dict[str, list[str]]:
    """Each command path ("", "sync", "conflicts resolve") and the words that may follow it."""
    tree: dict[str, list[str]] = {}

    def walk(current: argparse.ArgumentParser, path: str) -> None:
        words: list[str] = []
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    words.append(name)
                    walk(sub, f"{path} {name}".strip())
            else:
                words += [option for option in action.option_strings if option.startswith("--")]
        tree[path] = words

    walk(parser, "")
    return tree


def _valued(parser: argparse.ArgumentParser) -> list[str]:
    """Every option that takes a value (-c FILE, --deal ID, --log-level LEVEL), anywhere in the tree."""
    found: set[str] = set()

    def walk(current: argparse.ArgumentParser) -> None:
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    walk(sub)
            elif action.option_strings and action.nargs != 0:
                found.update(action.option_strings)

    walk(parser)
    return sorted(found)


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script for bash, zsh or fish."""
    tree = _tree(parser)
    valued = "|".join(_valued(parser))
    if shell == "fish":
        lines = ["# b24sync completion for fish: b24sync completion fish > ~/.config/fish/completions/b24sync.fish"]
        for path, words in tree.items():
            parts = path.split()
            condition = "__fish_use_subcommand" if not parts else \
                f"__fish_seen_subcommand_from {parts[-1]}"
            for word in words:
                if word.startswith("--"):
                    lines.append(f"complete -c b24sync -n '{condition}' -l {word[2:]}")
                else:
                    lines.append(f"complete -c b24sync -f -n '{condition}' -a {word}")
        return "\n".join(lines) + "\n"
    cases = "\n".join(f'        "{path}") words="{" ".join(words)}" ;;' for path, words in tree.items())
    body = f"""_b24sync() {{
    local path="" word skip=""
    for word in "${{COMP_WORDS[@]:1:COMP_CWORD-1}}"; do
        if [ -n "$skip" ]; then skip=""; continue; fi  # the value of the option before it
        case "$word" in
            {valued}) skip=1 ;;
            -*) ;;
            *) [ -n "$path" ] && path="$path $word" || path="$word" ;;
        esac
    done
    local words=""
    case "$path" in
{cases}
    esac
    COMPREPLY=($(compgen -W "$words" -- "${{COMP_WORDS[COMP_CWORD]}}"))
}}
complete -o default -F _b24sync b24sync
"""
    if shell == "zsh":
        return "# b24sync completion for zsh: eval \"$(b24sync completion zsh)\"\nautoload -U bashcompinit && " \
               "bashcompinit\n" + body
    return "# b24sync completion for bash: eval \"$(b24sync completion bash)\"\n" + body
