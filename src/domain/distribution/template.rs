//! The name template of a distribution: `{region}`, `{account}`, `{source_image_id}` and
//! `{date}` expand per target. Braces cannot be part of an AMI name, so every brace must open or
//! close one of these placeholders.

/// What the placeholders of one target expand to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamePlaceholders<'a> {
    /// `{region}`: the target's Region.
    pub region: &'a str,
    /// `{account}`: the target's account, or the service's own account id (`self` when the
    /// service does not know it).
    pub account: &'a str,
    /// `{source_image_id}`: the AMI being distributed.
    pub source_image_id: &'a str,
    /// `{date}`: the distribution's creation date, YYYY-MM-DD.
    pub date: &'a str,
}

/// The placeholders a template may use, as written.
const KNOWN: [&str; 4] = ["{region}", "{account}", "{source_image_id}", "{date}"];

/// One piece of a parsed template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'t> {
    Text(&'t str),
    Region,
    Account,
    SourceImageId,
    Date,
}

/// A template checked once, to be expanded for every target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Template<'t>(Vec<Piece<'t>>);

impl<'t> Template<'t> {
    /// Splits `template` into text and placeholders; an unknown placeholder or a stray brace is
    /// refused with a sentence that lists the placeholders there are.
    pub(super) fn parse(template: &'t str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut rest = template;
        while !rest.is_empty() {
            let Some(open) = rest.find(['{', '}']) else {
                pieces.push(Piece::Text(rest));
                break;
            };
            if open > 0 {
                pieces.push(Piece::Text(&rest[..open]));
            }
            rest = &rest[open..];
            if rest.starts_with('}') {
                return Err(format!(
                    "the name template has a '}}' that closes no placeholder; use {}",
                    KNOWN.join(", ")
                ));
            }
            let Some(close) = rest.find('}') else {
                return Err(format!(
                    "the name template has a '{{' that is never closed; use {}",
                    KNOWN.join(", ")
                ));
            };
            let placeholder = &rest[..=close];
            pieces.push(match placeholder {
                "{region}" => Piece::Region,
                "{account}" => Piece::Account,
                "{source_image_id}" => Piece::SourceImageId,
                "{date}" => Piece::Date,
                unknown => {
                    return Err(format!(
                        "the name template uses the unknown placeholder {unknown}; use {}",
                        KNOWN.join(", ")
                    ));
                }
            });
            rest = &rest[close + 1..];
        }
        Ok(Self(pieces))
    }

    /// The template with every placeholder replaced by `values`.
    pub(super) fn expand(&self, values: &NamePlaceholders<'_>) -> String {
        self.0
            .iter()
            .map(|piece| match piece {
                Piece::Text(text) => text,
                Piece::Region => values.region,
                Piece::Account => values.account,
                Piece::SourceImageId => values.source_image_id,
                Piece::Date => values.date,
            })
            .collect()
    }
}

/// `template` expanded with `values`, or why the template is not one.
pub fn expand_name(template: &str, values: &NamePlaceholders<'_>) -> Result<String, String> {
    Template::parse(template).map(|parsed| parsed.expand(values))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUES: NamePlaceholders<'static> = NamePlaceholders {
        region: "eu-west-1",
        account: "222233334444",
        source_image_id: "ami-0a1b2c3d4e5f60001",
        date: "2026-12-06",
    };

    #[test]
    fn every_placeholder_expands_wherever_it_is() {
        let cases = [
            ("golden", "golden"),
            ("golden-{region}", "golden-eu-west-1"),
            ("{account}/{region}", "222233334444/eu-west-1"),
            (
                "{source_image_id} copy {date} {region}{region}",
                "ami-0a1b2c3d4e5f60001 copy 2026-12-06 eu-west-1eu-west-1",
            ),
            ("", ""),
        ];
        for (template, expanded) in cases {
            assert_eq!(expand_name(template, &VALUES).as_deref(), Ok(expanded), "{template}");
        }
    }

    #[test]
    fn unknown_placeholders_and_stray_braces_are_refused_with_the_known_ones() {
        for (template, phrase) in [
            ("golden-{regoin}", "unknown placeholder {regoin}"),
            ("golden-{Region}", "unknown placeholder {Region}"),
            ("golden-{}", "unknown placeholder {}"),
            ("golden-{region", "never closed"),
            ("golden-region}", "closes no placeholder"),
            ("golden-{{region}}", "unknown placeholder {{region}"),
        ] {
            let error = expand_name(template, &VALUES).unwrap_err();
            assert!(error.contains(phrase), "{template}: {error}");
            assert!(error.contains("{source_image_id}"), "lists the known ones: {error}");
        }
    }
}
