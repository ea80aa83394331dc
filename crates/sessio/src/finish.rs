//! The futures that finish a session at the end of a request: what an adapter's response
//! future is made of, so that no adapter repeats how a session is finished.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_util::future::TryFuture;
use pin_project_lite::pin_project;

use crate::response::SessionResponse;
use crate::store::BoxFuture;
use crate::{Session, SessionError};

/// What finishing a session gives: the headers to add to the response, or why they could
/// not be produced (then the response should be the error's).
pub type Finished = Result<SessionResponse, SessionError>;

/// The future of [`Session::finishing`]: ready at once when the session needs no store
/// write, else the write under way.
pub enum Finish {
    /// Decided without a store write.
    Ready(Option<Finished>),
    /// The store write under way.
    Writing(BoxFuture<'static, Finished>),
}

impl fmt::Debug for Finish {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Finish::Ready(_) => "Finish::Ready",
            Finish::Writing(_) => "Finish::Writing",
        })
    }
}

impl Future for Finish {
    type Output = Finished;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            // Polled again after completion: the session is finished.
            Finish::Ready(finished) => {
                Poll::Ready(finished.take().unwrap_or(Err(SessionError::Finished)))
            }
            Finish::Writing(write) => write.as_mut().poll(cx),
        }
    }
}

pin_project! {
    /// The future of [`Session::finish_after`]: the handler's answer, then the session's
    /// finish. A middleware's response future wraps this and turns its output into the
    /// framework's response; it needs no box of its own, since only a store write is
    /// boxed (see [`Finish`]).
    ///
    /// # Panics
    ///
    /// When polled again after it completed (with the answer or the handler's error), as
    /// futures may: the handler's future is never polled past its end.
    pub struct FinishAfter<F>
    where
        F: TryFuture,
    {
        #[pin]
        state: AfterState<F>,
    }
}

pin_project! {
    #[project = AfterStateProj]
    enum AfterState<F>
    where
        F: TryFuture,
    {
        /// The handler is answering.
        Answering {
            #[pin]
            answer: F,
            session: Session,
        },
        /// The handler answered; the session is being finished.
        Finishing {
            finish: Finish,
            answer: Option<F::Ok>,
        },
        /// The output was handed out.
        Done,
    }
}

impl<F: TryFuture> FinishAfter<F> {
    pub(crate) fn new(session: Session, answer: F) -> Self {
        FinishAfter {
            state: AfterState::Answering { answer, session },
        }
    }
}

impl<F: TryFuture> fmt::Debug for FinishAfter<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FinishAfter").finish_non_exhaustive()
    }
}

impl<F: TryFuture> Future for FinishAfter<F> {
    /// The handler's answer with the session's [`Finished`], or the handler's error: then
    /// the session is left unfinished, and nothing the handler changed is written.
    type Output = Result<(F::Ok, Finished), F::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                AfterStateProj::Answering { answer, session } => {
                    let answer = match ready!(answer.try_poll(cx)) {
                        Ok(answer) => answer,
                        Err(error) => {
                            state.set(AfterState::Done);
                            return Poll::Ready(Err(error));
                        }
                    };
                    let finish = session.finishing();
                    state.set(AfterState::Finishing {
                        finish,
                        answer: Some(answer),
                    });
                }
                AfterStateProj::Finishing { finish, answer } => {
                    let finished = ready!(Pin::new(finish).poll(cx));
                    let answer = answer.take();
                    state.set(AfterState::Done);
                    if let Some(answer) = answer {
                        return Poll::Ready(Ok((answer, finished)));
                    }
                }
                AfterStateProj::Done => panic!("FinishAfter polled after it completed"),
            }
        }
    }
}
