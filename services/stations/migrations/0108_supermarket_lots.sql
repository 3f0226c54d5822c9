-- stations: a catalog per community (the county's defaults, community_id NULL, plus a community's
-- own rewards), stock in lots that keep the station that supplied them and what is left of each,
-- and redemptions that wait for the clerk: pending, handed over, or cancelled with a reason.
ALTER TABLE rewards ADD COLUMN community_id UUID;
CREATE INDEX rewards_by_community ON rewards (community_id) WHERE community_id IS NOT NULL;

-- What is left of each lot. Lots supplied before this version share the stock they left,
-- newest first: redemptions took the oldest lots.
ALTER TABLE stock_supplies ADD COLUMN remaining BIGINT;
UPDATE stock_supplies l SET remaining = r.remaining
FROM (
    SELECT s.id,
           GREATEST(0, LEAST(s.quantity,
               COALESCE(st.quantity, 0) - COALESCE(sum(s.quantity) OVER (
                   PARTITION BY s.community_id, s.reward_id ORDER BY s.supplied_at DESC, s.id DESC
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0))) AS remaining
    FROM stock_supplies s
    LEFT JOIN stock st ON st.community_id = s.community_id AND st.reward_id = s.reward_id
) r
WHERE l.id = r.id;
ALTER TABLE stock_supplies
    ALTER COLUMN remaining SET NOT NULL,
    ADD CONSTRAINT stock_lots_remaining CHECK (remaining BETWEEN 0 AND quantity);
CREATE INDEX stock_lots_open ON stock_supplies (community_id, reward_id, supplied_at, id) WHERE remaining > 0;
CREATE INDEX stock_lots_by_community ON stock_supplies (community_id, id);

-- Which lots each redemption took from, so that a cancellation gives back to the same lots.
CREATE TABLE redemption_lots (
    redemption_id UUID NOT NULL REFERENCES redemptions (id),
    lot_id        UUID NOT NULL REFERENCES stock_supplies (id),
    quantity      BIGINT NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (redemption_id, lot_id)
);

-- 1 pending, 2 handed over, 3 cancelled. Redemptions before this version were made at the
-- counter: handed over.
ALTER TABLE redemptions
    ADD COLUMN status        SMALLINT NOT NULL DEFAULT 1 CHECK (status BETWEEN 1 AND 3),
    ADD COLUMN changed_at    TIMESTAMPTZ,
    ADD COLUMN changed_by    TEXT,
    ADD COLUMN cancel_reason TEXT NOT NULL DEFAULT '';
UPDATE redemptions SET status = 2, changed_at = redeemed_at, changed_by = 'before hand-over tracking';
CREATE INDEX redemptions_by_community ON redemptions (community_id, id);
CREATE INDEX redemptions_by_worker ON redemptions (worker_id, id);
