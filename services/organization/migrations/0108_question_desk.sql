-- organization: the expert Q&A desk (专家答疑平台). Experts are instructors (guides) or lecturers of
-- education's pool who entered the desk, with the topics they answer; questions are routed to one
-- of them or to the county, carry a thread of messages, a deadline and, once answered, a rating;
-- staff publish answered questions, stripped of who asked, as FAQ entries.

CREATE TABLE desk_experts (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL,
    department  TEXT NOT NULL DEFAULT '',
    topics      SMALLINT[] NOT NULL CHECK (cardinality(topics) > 0),
    guide_id    UUID REFERENCES guides (id),
    lecturer_id UUID,
    available   BOOLEAN NOT NULL DEFAULT TRUE,
    version     BIGINT NOT NULL DEFAULT 1,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((guide_id IS NULL) <> (lecturer_id IS NULL))
);
-- A person enters the desk once.
CREATE UNIQUE INDEX desk_experts_guide ON desk_experts (guide_id) WHERE guide_id IS NOT NULL;
CREATE UNIQUE INDEX desk_experts_lecturer ON desk_experts (lecturer_id) WHERE lecturer_id IS NOT NULL;
CREATE INDEX desk_experts_topics ON desk_experts USING gin (topics);

CREATE TABLE questions (
    id                UUID PRIMARY KEY,
    asker_id          UUID NOT NULL REFERENCES workers (id),
    -- The asker's community when they asked: whose staff see it.
    community_id      UUID,
    topic             SMALLINT NOT NULL,
    anonymous         BOOLEAN NOT NULL,
    status            SMALLINT NOT NULL,
    -- NULL: the county answers it.
    expert_id         UUID REFERENCES desk_experts (id),
    asked_at          TIMESTAMPTZ NOT NULL,
    -- The deadline of the answer it waits for now, and of its first answer.
    due_at            TIMESTAMPTZ NOT NULL,
    first_due_at      TIMESTAMPTZ NOT NULL,
    first_answered_at TIMESTAMPTZ,
    escalated_at      TIMESTAMPTZ,
    rating            SMALLINT NOT NULL DEFAULT 0,
    version           BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX questions_by_asker ON questions (asker_id, id);
CREATE INDEX questions_by_expert ON questions (expert_id, id);
CREATE INDEX questions_by_community ON questions (community_id, id);
CREATE INDEX questions_by_asked_at ON questions (asked_at);
-- What the escalation sweep looks at: questions waiting, by deadline.
CREATE INDEX questions_waiting_by_due ON questions (due_at) WHERE status = 1;

CREATE TABLE question_messages (
    id          UUID PRIMARY KEY,
    question_id UUID NOT NULL REFERENCES questions (id),
    kind        SMALLINT NOT NULL,
    text        TEXT NOT NULL,
    -- Who wrote it (the token's subject), and as which expert if one.
    author      TEXT NOT NULL,
    expert_id   UUID REFERENCES desk_experts (id),
    by_county   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX question_messages_by_question ON question_messages (question_id, id);

CREATE TABLE faq_entries (
    id               UUID PRIMARY KEY,
    question_id      UUID NOT NULL REFERENCES questions (id),
    topic            SMALLINT NOT NULL,
    -- Whose staff may withdraw it: the question's community.
    community_id     UUID,
    question         TEXT NOT NULL,
    answer           TEXT NOT NULL,
    published_by     TEXT NOT NULL,
    published_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    withdrawn_at     TIMESTAMPTZ,
    withdrawn_reason TEXT,
    version          BIGINT NOT NULL DEFAULT 1
);
-- One live entry per question.
CREATE UNIQUE INDEX faq_entries_live_question ON faq_entries (question_id) WHERE withdrawn_at IS NULL;
CREATE INDEX faq_entries_by_topic ON faq_entries (topic, id) WHERE withdrawn_at IS NULL;
