//! The console's two languages from one catalogue, as on the touchscreen: the English text is
//! the message id, `lang/zh.po` (gettext format) holds the Chinese. `{}` in a message is filled
//! in order by [`trf`].

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::language::Language;

const ZH_PO: &str = include_str!("lang/zh.po");

static ZH: LazyLock<HashMap<String, String>> = LazyLock::new(|| parse_po(ZH_PO));

/// A message in `lang` (the English text itself when the catalogue has no entry).
pub fn tr(lang: Language, english: &'static str) -> &'static str {
    match lang {
        Language::En => english,
        Language::Zh => ZH.get(english).map_or(english, String::as_str),
    }
}

/// A message with its `{}` placeholders filled in order.
pub fn trf(lang: Language, english: &'static str, args: &[&dyn std::fmt::Display]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut parts = tr(lang, english).split("{}");
    out.push_str(parts.next().unwrap_or_default());
    for part in parts {
        if let Some(arg) = args.next() {
            out.push_str(&arg.to_string());
        }
        out.push_str(part);
    }
    out
}

/// The language's code, for `<html lang>`.
pub fn code(lang: Language) -> &'static str {
    match lang {
        Language::Zh => "zh",
        Language::En => "en",
    }
}

/// `msgid "…"` / `msgstr "…"` pairs (one line each, `\"` and `\n` escapes).
fn parse_po(text: &str) -> HashMap<String, String> {
    let unquote = |line: &str, tag: &str| {
        let rest = line.strip_prefix(tag)?.trim();
        let inner = rest.strip_prefix('"')?.strip_suffix('"')?;
        Some(inner.replace("\\\"", "\"").replace("\\n", "\n"))
    };
    let mut map = HashMap::new();
    let mut id = None;
    for line in text.lines() {
        if let Some(msgid) = unquote(line, "msgid") {
            id = Some(msgid);
        } else if let (Some(msgstr), Some(msgid)) = (unquote(line, "msgstr"), id.take())
            && !msgid.is_empty()
            && !msgstr.is_empty()
        {
            map.insert(msgid, msgstr);
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every literal message of `tr`, `trf`, `Problem::bad` and `Problem::bad_with` in the
    /// console's sources.
    fn messages_in_sources() -> Vec<String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/console");
        let mut files = vec![root.clone()];
        let mut messages = Vec::new();
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") || path.ends_with("i18n.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for call in ["tr(", "trf(", "bad(", "bad_with("] {
                for (at, _) in text.match_indices(call) {
                    let rest = text[at + call.len()..].trim_start();
                    let rest =
                        rest.strip_prefix("lang,").or(rest.strip_prefix("l,")).unwrap_or(rest);
                    let Some(rest) = rest.trim_start().strip_prefix('"') else { continue };
                    let end = rest.find('"').expect("a closed string literal");
                    messages.push(rest[..end].to_owned());
                }
            }
        }
        messages
    }

    #[test]
    fn every_console_message_has_its_chinese_text() {
        let messages = messages_in_sources();
        assert!(messages.len() > 50, "the scan finds the console's messages");
        let missing: Vec<&String> = messages.iter().filter(|m| !ZH.contains_key(*m)).collect();
        assert!(missing.is_empty(), "no Chinese text in lang/zh.po for {missing:?}");
    }

    #[test]
    fn placeholders_are_filled_in_order_in_both_languages() {
        let en = trf(Language::En, "Page {} of {}", &[&2, &7]);
        assert_eq!(en, "Page 2 of 7");
        let zh = trf(Language::Zh, "Page {} of {}", &[&2, &7]);
        assert!(zh.contains('2') && zh.contains('7') && zh != en, "{zh}");
    }
}
