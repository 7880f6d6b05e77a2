//! [`MessageContexts`]: the contexts of an invocation's messages as the layer read them (to
//! link the invocation span to each), kept so that
//! [`messaging::each_record`](crate::messaging::each_record) does not parse them a second time.
//!
//! A context is reused only for headers that give **the same answers to the same questions**:
//! with each context the layer keeps a transcript of what its propagators asked the message's
//! [`Extractor`] (`get`, `get_all`, `keys`, `has_key_with_prefix`, `for_each_with_prefix`, in
//! order) and what it answered. `each_record` asks the record's headers those questions again
//! and takes the kept context only when every answer is equal, byte for byte; else it extracts
//! as before. The propagators see nothing but those answers and are deterministic (the one
//! random part, the trace id of a sampling-only decision, is never used for a span's parent),
//! so a context taken this way is the one the extraction would give: whatever the handler did
//! to the event in between (filtered it, reordered it, changed a record, passed another one),
//! each record gets its own context. What is saved is the parsing; the look-ups are made again.

use std::cell::RefCell;
use std::ops::Range;

use crate::context::TraceContext;
use crate::propagation::{CompositePropagator, Extractor, Propagator};

/// Most messages whose context is kept per invocation (the largest batches Lambda delivers,
/// SQS and Kinesis, hold 10,000 records); `each_record` extracts the context of any later one.
pub(crate) const MAX_KEPT: usize = 10_000;

/// The messages' contexts, in the order the layer read them, with the transcripts.
#[derive(Debug, Default)]
pub(crate) struct MessageContexts {
    /// One per message, in order.
    kept: Vec<Kept>,
    /// What was asked and answered, for every message one after the other.
    log: Log,
    /// The context of a message past [`MAX_KEPT`] (not kept), for [`MessageContexts::extract`]
    /// to lend.
    scratch: Option<TraceContext>,
}

/// One message's context and its questions (a range of [`Log::queries`]).
#[derive(Debug)]
struct Kept {
    context: Option<TraceContext>,
    queries: Range<usize>,
}

/// A transcript: questions, answers, and their text.
#[derive(Debug, Default)]
struct Log {
    queries: Vec<Query>,
    /// Texts of names and answers (ranges of `text`) in lists: `get_all` and `keys` answers,
    /// the values of a `for_each_with_prefix` visit.
    lists: Vec<Range<usize>>,
    /// `for_each_with_prefix` visits: the name, and its values (a range of `lists`).
    visits: Vec<(Range<usize>, Range<usize>)>,
    /// Every name and answer, one after the other.
    text: String,
}

/// One question to an [`Extractor`] and its answer; text as ranges of [`Log::text`], lists as
/// ranges of [`Log::lists`].
#[derive(Debug)]
enum Query {
    Get {
        name: Range<usize>,
        answer: Option<Range<usize>>,
    },
    GetAll {
        name: Range<usize>,
        answers: Range<usize>,
    },
    Keys {
        answers: Range<usize>,
    },
    HasKeyWithPrefix {
        prefix: Range<usize>,
        answer: bool,
    },
    /// `visits`: a range of [`Log::visits`].
    ForEachWithPrefix {
        prefix: Range<usize>,
        max: usize,
        visits: Range<usize>,
    },
}

impl Log {
    fn push_text(&mut self, s: &str) -> Range<usize> {
        let start = self.text.len();
        self.text.push_str(s);
        start..self.text.len()
    }

    fn push_list(&mut self, items: &[&str]) -> Range<usize> {
        let start = self.lists.len();
        for item in items {
            let text = self.push_text(item);
            self.lists.push(text);
        }
        start..self.lists.len()
    }

    fn text(&self, range: &Range<usize>) -> &str {
        self.text.get(range.clone()).unwrap_or_default()
    }

    /// `true` when `items` are the texts of `list`, in order.
    fn same_list(&self, list: &Range<usize>, items: &[&str]) -> bool {
        let kept = self.lists.get(list.clone()).unwrap_or_default();
        kept.len() == items.len()
            && kept
                .iter()
                .zip(items)
                .all(|(range, item)| self.text(range) == *item)
    }

    /// `true` when `headers` answer `queries` as they were answered.
    fn replays(&self, queries: &[Query], headers: &dyn Extractor) -> bool {
        queries.iter().all(|query| match query {
            Query::Get { name, answer } => {
                headers.get(self.text(name)) == answer.as_ref().map(|a| self.text(a))
            }
            Query::GetAll { name, answers } => {
                self.same_list(answers, &headers.get_all(self.text(name)))
            }
            Query::Keys { answers } => self.same_list(answers, &headers.keys()),
            Query::HasKeyWithPrefix { prefix, answer } => {
                headers.has_key_with_prefix(self.text(prefix)) == *answer
            }
            Query::ForEachWithPrefix {
                prefix,
                max,
                visits,
            } => {
                let kept = self.visits.get(visits.clone()).unwrap_or_default();
                let mut seen = 0;
                let mut same = true;
                headers.for_each_with_prefix(self.text(prefix), *max, &mut |name, values| {
                    same = same
                        && kept.get(seen).is_some_and(|(kept_name, kept_values)| {
                            self.text(kept_name) == name && self.same_list(kept_values, values)
                        });
                    seen += 1;
                });
                same && seen == kept.len()
            }
        })
    }
}

/// An [`Extractor`] that answers as `inner` does and writes every question and answer to `log`.
struct Transcribing<'a, 'l> {
    inner: &'a dyn Extractor,
    log: RefCell<&'l mut Log>,
}

impl Transcribing<'_, '_> {
    fn push(&self, make: impl FnOnce(&mut Log) -> Query) {
        let mut log = self.log.borrow_mut();
        let query = make(&mut log);
        log.queries.push(query);
    }
}

impl Extractor for Transcribing<'_, '_> {
    fn get(&self, name: &str) -> Option<&str> {
        let answer = self.inner.get(name);
        self.push(|log| Query::Get {
            name: log.push_text(name),
            answer: answer.map(|a| log.push_text(a)),
        });
        answer
    }

    fn get_all(&self, name: &str) -> Vec<&str> {
        let answers = self.inner.get_all(name);
        self.push(|log| Query::GetAll {
            name: log.push_text(name),
            answers: log.push_list(&answers),
        });
        answers
    }

    fn keys(&self) -> Vec<&str> {
        let answers = self.inner.keys();
        self.push(|log| Query::Keys {
            answers: log.push_list(&answers),
        });
        answers
    }

    fn has_key_with_prefix(&self, prefix: &str) -> bool {
        let answer = self.inner.has_key_with_prefix(prefix);
        self.push(|log| Query::HasKeyWithPrefix {
            prefix: log.push_text(prefix),
            answer,
        });
        answer
    }

    fn for_each_with_prefix(&self, prefix: &str, max: usize, visit: &mut dyn FnMut(&str, &[&str])) {
        let start = self.log.borrow().visits.len();
        self.inner
            .for_each_with_prefix(prefix, max, &mut |name, values| {
                {
                    let mut log = self.log.borrow_mut();
                    let name_text = log.push_text(name);
                    let values_list = log.push_list(values);
                    log.visits.push((name_text, values_list));
                }
                visit(name, values);
            });
        self.push(|log| Query::ForEachWithPrefix {
            prefix: log.push_text(prefix),
            max,
            visits: start..log.visits.len(),
        });
    }
}

impl MessageContexts {
    /// Room for the contexts of `messages` messages and their transcripts (as many questions
    /// and as much text as the default propagators ask of an SQS record that carries an X-Ray
    /// header), so that keeping them costs no reallocation.
    pub(crate) fn with_capacity(messages: usize) -> Self {
        let messages = messages.min(MAX_KEPT);
        Self {
            kept: Vec::with_capacity(messages),
            log: Log {
                queries: Vec::with_capacity(messages * 4),
                lists: Vec::with_capacity(messages),
                visits: Vec::new(),
                text: String::with_capacity(messages * 128),
            },
            scratch: None,
        }
    }

    /// Extracts the context of the next message's `headers` with `propagator`, and keeps it
    /// with the transcript of the extraction (up to [`MAX_KEPT`] messages).
    pub(crate) fn extract(
        &mut self,
        propagator: &CompositePropagator,
        headers: &dyn Extractor,
    ) -> Option<&TraceContext> {
        if self.kept.len() >= MAX_KEPT {
            self.scratch = propagator.extract(headers);
            return self.scratch.as_ref();
        }
        let start = self.log.queries.len();
        let context = propagator.extract(&Transcribing {
            inner: headers,
            log: RefCell::new(&mut self.log),
        });
        let queries = start..self.log.queries.len();
        self.kept.push(Kept { context, queries });
        self.kept.last().and_then(|k| k.context.as_ref())
    }

    /// The context kept for the `index`th message, when `headers` answer what its extraction
    /// asked as that message's headers did (`Some(None)`: they carry none); `None` when there
    /// is no such message or an answer differs.
    pub(crate) fn reuse(
        &self,
        index: usize,
        headers: &dyn Extractor,
    ) -> Option<Option<TraceContext>> {
        let kept = self.kept.get(index)?;
        let queries = self.log.queries.get(kept.queries.clone())?;
        self.log
            .replays(queries, headers)
            .then(|| kept.context.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagation::testing::pairs;

    const XRAY: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    /// Extracts `messages` as the layer does, then asks for each of `records` at its index.
    fn reuse(
        messages: &[&[(&str, &str)]],
        records: &[&[(&str, &str)]],
    ) -> Vec<Option<Option<TraceContext>>> {
        let propagator = CompositePropagator::default();
        let mut kept = MessageContexts::default();
        for m in messages {
            let direct = propagator.extract(&pairs(m));
            assert_eq!(kept.extract(&propagator, &pairs(m)), direct.as_ref());
        }
        records
            .iter()
            .enumerate()
            .map(|(i, r)| kept.reuse(i, &pairs(r)))
            .collect()
    }

    #[test]
    fn the_same_headers_get_the_kept_context() {
        let with_baggage: &[(&str, &str)] = &[
            ("x-amzn-trace-id", XRAY),
            ("baggage", "k=v"),
            ("uberctx-tenant", "t"),
            ("ot-baggage-user", "u"),
        ];
        let none: &[(&str, &str)] = &[("other", "x")];
        let got = reuse(&[with_baggage, none], &[with_baggage, none]);
        let direct = CompositePropagator::default().extract(&pairs(with_baggage));
        assert!(direct.as_ref().is_some_and(|cx| cx.baggage.len() == 3));
        assert_eq!(got, [Some(direct), Some(None)]);
    }

    #[test]
    fn other_answers_are_extracted_again() {
        let xray: &[(&str, &str)] = &[("x-amzn-trace-id", XRAY)];
        let changed = XRAY.replace("Sampled=1", "Sampled=0");
        let changed: &[(&str, &str)] = &[("x-amzn-trace-id", &changed)];
        let w3c: &[(&str, &str)] = &[("traceparent", TRACEPARENT)];
        let more_baggage: &[(&str, &str)] = &[("x-amzn-trace-id", XRAY), ("baggage", "k=v")];
        let prefixed: &[(&str, &str)] = &[("x-amzn-trace-id", XRAY), ("uberctx-k", "v")];
        let prefixed_other: &[(&str, &str)] = &[("x-amzn-trace-id", XRAY), ("uberctx-k", "w")];
        // A changed header, a reordered batch, a header added, a prefixed header changed, a
        // message that was not there.
        assert_eq!(reuse(&[xray], &[changed]), [None]);
        assert_eq!(reuse(&[xray, w3c], &[w3c, xray]), [None, None]);
        assert_eq!(reuse(&[xray], &[more_baggage]), [None]);
        assert_eq!(reuse(&[prefixed], &[prefixed_other]), [None]);
        assert_eq!(reuse(&[], &[xray]), [None]);
        // A header no format reads does not matter.
        let noise: &[(&str, &str)] = &[("x-amzn-trace-id", XRAY), ("other", "x")];
        assert!(matches!(&reuse(&[xray], &[noise])[..], [Some(Some(_))]));
    }

    #[test]
    fn past_the_cap_contexts_are_lent_not_kept() {
        let propagator = CompositePropagator::default();
        let headers = pairs(&[("x-amzn-trace-id", XRAY)]);
        let mut kept = MessageContexts::default();
        for _ in 0..=MAX_KEPT {
            assert!(kept.extract(&propagator, &headers).is_some());
        }
        assert_eq!(kept.kept.len(), MAX_KEPT);
        assert!(kept.reuse(MAX_KEPT - 1, &headers).is_some());
        assert_eq!(kept.reuse(MAX_KEPT, &headers), None);
    }
}
