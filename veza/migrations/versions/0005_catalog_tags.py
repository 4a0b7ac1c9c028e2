"""Products of the marketplace, and one table of normalised tags with usage counts.

Tag counts are kept by triggers on every table that has tags (products, live
streams, cloud files), so no code path can forget them.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TAGGED_TABLES = ("products", "live_streams", "cloud_files")


def upgrade() -> None:
    op.execute("""
    CREATE FUNCTION veza_tags_text(text[]) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT array_to_string($1, ' ') $$;

    CREATE TABLE products (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        seller_id uuid NOT NULL REFERENCES users (id),
        asset_file_id uuid NOT NULL REFERENCES cloud_files (id),
        title text NOT NULL CHECK (length(title) BETWEEN 1 AND 140),
        description text NOT NULL DEFAULT '',
        kind text NOT NULL CHECK (kind IN ('track', 'sample_pack', 'preset', 'beat', 'other')),
        price_cents bigint NOT NULL CHECK (price_cents > 0),
        currency char(3) NOT NULL DEFAULT 'EUR',
        tags text[] NOT NULL DEFAULT '{}',
        status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
        rating_avg numeric(3, 2),
        review_count integer NOT NULL DEFAULT 0,
        sales_count integer NOT NULL DEFAULT 0,
        search tsvector GENERATED ALWAYS AS (
            setweight(to_tsvector('simple', title), 'A')
            || setweight(to_tsvector('simple', veza_tags_text(tags)), 'A')
            || setweight(to_tsvector('simple', description), 'B')
        ) STORED,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX products_search_idx ON products USING gin (search);
    -- One index per catalog sort, in the order the query asks for (see marketplace/queries.py).
    CREATE INDEX products_active_newest_idx ON products (created_at DESC, id) WHERE status = 'active';
    CREATE INDEX products_active_price_idx ON products (price_cents, created_at DESC, id) WHERE status = 'active';
    CREATE INDEX products_active_popular_idx ON products (sales_count DESC, created_at DESC, id)
        WHERE status = 'active';
    CREATE INDEX products_active_rating_idx
        ON products (rating_avg DESC NULLS LAST, review_count DESC, created_at DESC, id) WHERE status = 'active';
    CREATE INDEX products_seller_idx ON products (seller_id, created_at DESC);

    CREATE TABLE tags (
        name text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 50),
        usage_count integer NOT NULL DEFAULT 0 CHECK (usage_count >= 0)
    );
    CREATE INDEX tags_prefix_idx ON tags (name text_pattern_ops, usage_count DESC);
    -- "Similar" suggestions come from established tags only (see tags/queries.py).
    CREATE INDEX tags_similar_idx ON tags USING gin (name gin_trgm_ops) WHERE usage_count >= 5;
    CREATE INDEX tags_popular_idx ON tags (usage_count DESC, name) WHERE usage_count > 0;

    -- One tag at a time in name order: concurrent writers lock tag rows in the same order,
    -- so they wait for each other instead of deadlocking.
    CREATE FUNCTION veza_count_tags() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        old_tags text[] := CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN OLD.tags ELSE '{}' END;
        new_tags text[] := CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN NEW.tags ELSE '{}' END;
        change record;
    BEGIN
        FOR change IN
            SELECT t AS name, 1 AS delta FROM (SELECT unnest(new_tags) EXCEPT SELECT unnest(old_tags)) added(t)
            UNION ALL
            SELECT t, -1 FROM (SELECT unnest(old_tags) EXCEPT SELECT unnest(new_tags)) removed(t)
            ORDER BY name
        LOOP
            IF change.delta > 0 THEN
                INSERT INTO tags (name, usage_count) VALUES (change.name, 1)
                ON CONFLICT (name) DO UPDATE SET usage_count = tags.usage_count + 1;
            ELSE
                UPDATE tags SET usage_count = usage_count - 1 WHERE name = change.name AND usage_count > 0;
            END IF;
        END LOOP;
        RETURN NULL;
    END $$;
    """)
    for table in TAGGED_TABLES:
        op.execute(f"""
        CREATE TRIGGER {table}_count_tags AFTER INSERT OR DELETE OR UPDATE OF tags ON {table}
            FOR EACH ROW EXECUTE FUNCTION veza_count_tags();
        INSERT INTO tags (name, usage_count)
            SELECT t, count(*) FROM {table}, unnest(tags) t GROUP BY t
            ON CONFLICT (name) DO UPDATE SET usage_count = tags.usage_count + EXCLUDED.usage_count;
        """)


def downgrade() -> None:
    for table in TAGGED_TABLES:
        op.execute(f"DROP TRIGGER {table}_count_tags ON {table}")
    op.execute("""
    DROP FUNCTION veza_count_tags();
    DROP TABLE tags;
    DROP TABLE products;
    DROP FUNCTION veza_tags_text(text[]);
    """)
