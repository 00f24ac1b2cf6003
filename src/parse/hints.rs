//! Channel-level scheduling hints that feed-rs does not expose: RSS
//! `<skipHours>` and `<skipDays>`, and the syndication module's
//! `sy:updatePeriod` / `sy:updateFrequency`. A small scan of the channel
//! part of the document (before the first item), any namespace prefix.

use crate::model::ScheduleHints;

/// Reads the hints from the document's text.
pub(super) fn schedule(text: &str) -> ScheduleHints {
    let head = channel_head(text);
    let skip_hours = inner(head, "skipHours")
        .map(|block| all_inner(block, "hour").filter_map(|h| h.trim().parse::<u8>().ok()).map(|h| h % 24).collect())
        .unwrap_or_default();
    let skip_days = inner(head, "skipDays")
        .map(|block| all_inner(block, "day").filter_map(|d| weekday(d.trim())).collect())
        .unwrap_or_default();
    let period = inner(head, "updatePeriod").and_then(|p| period_secs(p.trim()));
    let frequency =
        inner(head, "updateFrequency").and_then(|f| f.trim().parse::<u64>().ok()).filter(|f| *f > 0).unwrap_or(1);
    ScheduleHints {
        skip_hours: dedup(skip_hours),
        skip_days: dedup(skip_days),
        update_every_secs: period.map(|p| p / frequency),
    }
}

fn dedup(mut v: Vec<u8>) -> Vec<u8> {
    v.sort_unstable();
    v.dedup();
    v
}

/// The document up to its first item or entry (bounded to 64 KiB).
fn channel_head(text: &str) -> &str {
    let end = ["<item", "<entry"].iter().filter_map(|t| text.find(t)).min().unwrap_or(text.len()).min(64 * 1024);
    &text[..text.floor_char_boundary(end)]
}

/// The text inside the first element whose local name is `name`.
fn inner<'a>(text: &'a str, name: &'a str) -> Option<&'a str> {
    all_inner(text, name).next()
}

/// The texts inside every element whose local name is `name`.
fn all_inner<'a>(text: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let mut pos = 0;
    std::iter::from_fn(move || {
        loop {
            let lt = pos + text.get(pos..)?.find('<')?;
            pos = lt + 1;
            let rest = &text[pos..];
            let tag_end = rest.find('>')?;
            let tag = &rest[..tag_end];
            let qname = tag.split_whitespace().next().unwrap_or("");
            let local = qname.rsplit(':').next().unwrap_or("");
            if local != name || tag.starts_with('/') || tag.ends_with('/') {
                continue;
            }
            let body_start = pos + tag_end + 1;
            let close = format!("</{qname}>");
            let body_len = text[body_start..].find(&close)?;
            pos = body_start + body_len;
            return Some(&text[body_start..body_start + body_len]);
        }
    })
}

fn weekday(day: &str) -> Option<u8> {
    let d = day.to_ascii_lowercase();
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
        .iter()
        .position(|w| d == *w)
        .map(|i| i as u8)
}

fn period_secs(p: &str) -> Option<u64> {
    Some(match p.to_ascii_lowercase().as_str() {
        "hourly" => 3600,
        "daily" => 86_400,
        "weekly" => 7 * 86_400,
        "monthly" => 30 * 86_400,
        "yearly" => 365 * 86_400,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_skip_hours_days_and_sy() {
        let doc = r#"<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel>
            <skipHours><hour>0</hour><hour>1</hour><hour>23</hour><hour>x</hour></skipHours>
            <skipDays><day>Saturday</day><day>sunday</day></skipDays>
            <sy:updatePeriod> daily </sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>
            <item><skipHours><hour>5</hour></skipHours></item></channel></rss>"#;
        let h = schedule(doc);
        assert_eq!(h.skip_hours, [0, 1, 23]);
        assert_eq!(h.skip_days, [5, 6]);
        assert_eq!(h.update_every_secs, Some(43_200));
        assert_eq!(schedule("<rss><channel><title>t</title></channel></rss>"), ScheduleHints::default());
    }

    #[test]
    fn hostile_text_is_harmless() {
        assert_eq!(schedule("<skipHours><hour>3"), ScheduleHints::default());
        assert_eq!(schedule("<<<>>><skipDays/>"), ScheduleHints::default());
    }
}
