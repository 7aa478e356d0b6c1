# bash completion for wrtools (wr-load, wr-verify, wr-dump, ...).
# One script serves every tool: it reads the options from `TOOL --help`,
# the same text the man pages are checked against, so a new option or a
# new tool needs nothing here. Installed once per tool name under
# bash-completion's completions directory, which loads it on first use.

# _wrtools_opts TOOL: "--opt ARG" lines from TOOL --help (cached)
_wrtools_opts()
{
    local tool=$1 var
    var=_wrtools_cache_${tool//[^A-Za-z0-9]/_}
    if [[ -z ${!var-} ]]; then
        printf -v "$var" '%s' "$("$tool" --help 2>/dev/null |
            sed -n -E 's/^ +(--[a-z][a-z0-9-]*), (--[a-z][a-z0-9-]*).*/\1\n\2/p; t
                       s/^ +(-[A-Za-z], )?(--[a-z][a-z0-9-]*)( ([A-Z][A-Z_|.]*))?.*/\2 \4/p')"
    fi
    printf '%s\n' "${!var}"
}

# _wrtools_values OPT ARG CUR: complete the argument ARG of option OPT
_wrtools_values()
{
    local opt=$1 arg=$2 cur=$3
    case $opt in
    --checkpoint) COMPREPLY=($(compgen -W 'latest previous' -- "$cur")) ;;
    --format) COMPREPLY=($(compgen -W 'jsonl json-array bson' -- "$cur")) ;;
    *)
        case $arg in
        DIR) COMPREPLY=($(compgen -d -- "$cur")) ;;
        FILE | PATH) COMPREPLY=($(compgen -f -- "$cur")) ;;
        *) COMPREPLY=() ;;
        esac
        ;;
    esac
}

_wrtools()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=
    local tool=${COMP_WORDS[0]} line opt arg nargs=0 i w
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    local -A takes=()
    while read -r opt arg; do
        [[ -n $opt ]] && takes[$opt]=$arg
    done < <(_wrtools_opts "$tool")
    if [[ -n $prev && -n ${takes[$prev]-} ]]; then
        _wrtools_values "$prev" "${takes[$prev]}" "$cur"
        return
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "${!takes[*]}" -- "$cur"))
        return
    fi
    # which positional argument is this? (words not options nor their values)
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ $w == -* ]]; then
            [[ -n ${takes[$w]-} ]] && ((i++))
        else
            ((nargs++))
        fi
    done
    line=$("$tool" --help 2>/dev/null | sed -n 's/^Usage: [^ ]* \[OPTIONS\] //p')
    read -r -a w <<<"${line//[\[\]]/}"
    arg=${w[nargs]:-${w[${#w[@]} - 1]}}
    case $arg in
    DIR) COMPREPLY=($(compgen -d -- "$cur")) ;;
    *) COMPREPLY=($(compgen -f -- "$cur")) ;;
    esac
}

# bash-completion loads completions/TOOL on TOOL's first use: register the
# name this copy is installed under (make install puts one per
# tools/wr-*.c), so a new tool needs nothing here
_wrtools_self=${BASH_SOURCE[0]##*/}
[[ $_wrtools_self == wr-* ]] && complete -o filenames -F _wrtools "$_wrtools_self"
unset _wrtools_self
