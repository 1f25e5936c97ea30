-- Version 6: what admins decided about mined questions (`bot mine`, the dashboard), one verdict
-- per question and shop; the question's misses up to `at` are done with.
CREATE TABLE reviews (
    shop TEXT NOT NULL,
    key TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('accepted', 'ignored')),
    by_agent TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (shop, key)
);
